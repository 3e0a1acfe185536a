"""The int8 ONNX encoder cuts its batches by padded tokens (``nlp.onnx_encoder.length_batches``):
every text still gets its own row, in order, whatever the cut (tiny model built in code)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from nlp.onnx_encoder import length_batches


def test_batches_cover_every_text_once_and_keep_to_the_budget():
    rng = random.Random(5)
    lengths = [rng.choice((3, 5, 8, 13, 21, 40, 90, 250)) + rng.randrange(4) for _ in range(500)]
    batches = length_batches(lengths, max_rows=32, token_budget=256)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 32
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 256
    widths = [max(lengths[i] for i in batch) for batch in batches]
    assert widths == sorted(widths)  # sorted by length: short posts are not padded to long ones
    padded = sum(len(batch) * width for batch, width in zip(batches, widths))
    fixed = sum(len(batch) * max(lengths[i] for i in batch) for batch in length_batches(lengths, 32, None))
    assert padded < fixed  # the budget pads less than fixed 32-row batches on mixed lengths
    assert [len(b) for b in length_batches([300, 2, 2], max_rows=32, token_budget=256)] == [2, 1]  # long text alone
    assert length_batches([], 32, 256) == []


def test_token_budget_batches_give_every_text_its_own_row(tiny_models, tmp_path):
    pytest.importorskip("onnxruntime")
    from nlp.encoder import TransformerEncoder
    from nlp.onnx_encoder import OnnxInt8Encoder

    path = tiny_models.embeddings.model
    texts = ["航班延误", "great crew, thanks!", "a much longer post about a cancelled flight " * 4,
             "服务太差了，退款一直不到账", "ok", "the app crashes at login again and again"]
    reference = TransformerEncoder(path, "tiny", device="cpu", dtype="float32").encode(texts)
    budgeted = OnnxInt8Encoder(path, "tiny", cache_root=tmp_path, token_budget=24)
    rows = budgeted.encode(texts)
    assert rows.shape == reference.shape
    assert (rows * reference).sum(axis=1).min() > 0.97  # each row is its own text's, in input order
    fixed = OnnxInt8Encoder(path, "tiny", cache_root=tmp_path, token_budget=None).encode(texts)
    assert (rows * fixed).sum(axis=1).min() > 0.99
    # the long post exceeds the budget, so it runs alone: the same row as encoding it by itself
    assert np.allclose(rows[2], budgeted.encode([texts[2]])[0], atol=1e-6)


def test_batches_side_by_side_give_the_rows_of_one_batch_at_a_time(tiny_models, tmp_path):
    pytest.importorskip("onnxruntime")
    from nlp.onnx_encoder import OnnxInt8Encoder

    path = tiny_models.embeddings.model
    texts = [f"post {i}: " + "the flight was cancelled again " * (i % 7) + "服务太差" * (i % 3) for i in range(60)]
    parallel = OnnxInt8Encoder(path, "tiny", cache_root=tmp_path, token_budget=48, threads=3)
    serial = OnnxInt8Encoder(path, "tiny", cache_root=tmp_path, token_budget=48, threads=1)
    rows = parallel.encode(texts)
    assert parallel._batch_pool() is not None and serial._batch_pool() is None
    assert np.allclose(rows, serial.encode(texts), atol=1e-6)  # same cuts, each row in its text's place
    assert np.allclose(rows[17], parallel.encode([texts[17]] + texts[:17])[0], atol=0.05)


_FORKED: dict = {}


def _encode_in_child(texts):
    return _FORKED["encoder"].encode(texts)


def test_side_by_side_batches_work_in_a_forked_child(tiny_models, tmp_path):
    """A worker that loads the encoder and then forks (a prefork task runner) must not hang."""
    pytest.importorskip("onnxruntime")
    import multiprocessing

    from nlp.onnx_encoder import OnnxInt8Encoder

    encoder = OnnxInt8Encoder(tiny_models.embeddings.model, "tiny", cache_root=tmp_path, token_budget=48, threads=2)
    texts = [f"post {i} " + "delayed again " * (i % 5) for i in range(30)]
    rows = encoder.encode(texts)  # the parent's pool has run
    _FORKED["encoder"] = encoder  # the child inherits it (an ONNX session cannot be pickled)
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child = pool.apply_async(_encode_in_child, (texts,)).get(timeout=120)
    assert np.allclose(child, rows, atol=1e-6)
