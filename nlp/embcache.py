"""Embeddings of text lists kept on disk, so training and benchmarks encode each text once.

The machines are shared and a 12,000-line corpus takes minutes to encode on two cores.
Vectors are stored per text (keyed by a hash of the text) in one file per tag and encoder,
so editing a few seed posts re-encodes only those.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from nlp.paths import embeddings_cache_dir


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


def cached_embeddings(encoder, texts: list[str], tag: str, directory: Path | None = None) -> np.ndarray:
    dtype = str(getattr(encoder, "dtype", "torch.float32"))
    identity = f"{encoder.name}|{encoder.prefix}|{encoder.max_length}"
    if dtype != "torch.float32":
        identity += f"|{dtype}"
    model = hashlib.sha256(identity.encode()).hexdigest()[:12]
    file = (directory or embeddings_cache_dir()) / f"{tag}-{model}.npz"
    known: dict[str, np.ndarray] = {}
    if file.is_file():
        with np.load(file) as data:
            known = dict(zip(data["keys"].tolist(), data["vectors"]))
    keys = [_key(text) for text in texts]
    missing = list(dict.fromkeys(k for k in keys if k not in known))
    if missing:
        by_key = dict(zip(keys, texts))
        vectors = encoder.encode([by_key[k] for k in missing])
        known.update(zip(missing, vectors))
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(file.name + ".tmp.npz")
        np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
        tmp.replace(file)
    if not texts:
        return np.zeros((0, getattr(encoder, "dim", 0)), dtype=np.float32)
    return np.stack([known[k] for k in keys]).astype(np.float32)
