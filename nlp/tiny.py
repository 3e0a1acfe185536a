"""Tiny, randomly initialised transformer models built in code, for fast plumbing tests.

They exercise the real code paths (tokenizer, BertModel forward pass, pooling, heads,
transformers sequence classifiers) in well under a second, and never stand in for quality:
their predictions are noise. Other components' tests (Airflow, demo) use them through
``make_tiny_models`` so that no test needs the real weights.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from crisiswatch.core.config import ModelsConfig, ModelSpec
from nlp import labels as label_sets
from nlp.heads import LinearHead
from nlp.paths import SEEDS_DIR

_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocabulary() -> list[str]:
    """Specials, printable ASCII and every character of the seed posts (covers common Chinese)."""
    chars = set(string.ascii_letters + string.digits + string.punctuation)
    for file in sorted(SEEDS_DIR.glob("*.txt")):
        chars.update(ch for ch in file.read_text(encoding="utf-8") if not ch.isspace())
    return _SPECIALS + sorted(chars)


def _tokenizer(directory: Path):
    from transformers import BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(_vocabulary()) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, tokenize_chinese_chars=True,
                             model_max_length=64)


def _config(**extra):
    from transformers import BertConfig

    return BertConfig(vocab_size=len(_vocabulary()), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=64, **extra)


def make_tiny_encoder(directory: str | Path) -> Path:
    """A 2-layer, 32-dim BertModel with a character tokenizer, saved as a transformers directory."""
    import torch
    from transformers import BertModel

    directory = Path(directory)
    torch.manual_seed(0)
    tokenizer = _tokenizer(directory)
    BertModel(_config(), add_pooling_layer=False).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def make_tiny_classifier(directory: str | Path, labels: list[str]) -> Path:
    """A tiny BertForSequenceClassification whose ``id2label`` names ``labels``."""
    import torch
    from transformers import BertForSequenceClassification

    directory = Path(directory)
    torch.manual_seed(1)
    tokenizer = _tokenizer(directory)
    config = _config(num_labels=len(labels), id2label=dict(enumerate(labels)),
                     label2id={label: i for i, label in enumerate(labels)})
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def make_tiny_models(directory: str | Path) -> ModelsConfig:
    """Tiny encoder + random heads for every task on disk; the returned config points at them."""
    from nlp.encoder import model_name

    directory = Path(directory)
    encoder_dir = make_tiny_encoder(directory / "encoder")
    encoder_name = model_name(str(encoder_dir), None)
    rng = np.random.default_rng(0)
    tasks = {"sentiment": label_sets.SENTIMENTS, "emotion": label_sets.EMOTIONS,
             "category": list(label_sets.CATEGORY_DESCRIPTIONS)}
    specs = {}
    for task, labels in tasks.items():
        head = LinearHead(task=task, labels=labels, encoder=encoder_name,
                          weights=rng.normal(0, 1, (len(labels), 32)).astype(np.float32),
                          bias=np.zeros(len(labels), dtype=np.float32), name=f"tiny-{task}",
                          info={"kind": "random", "note": "plumbing tests only"})
        head.save(directory / task)
        specs[task] = ModelSpec(model=str(directory / task), device="cpu")
    return ModelsConfig(embeddings=ModelSpec(model=str(encoder_dir), device="cpu", batch_size=16, max_length=64),
                        **specs)
