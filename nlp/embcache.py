"""Embeddings of fixed text lists kept on disk, so training and benchmarks encode once.

The machines are shared and a 17,000-line corpus takes minutes to encode on two cores;
the file name is a hash of the encoder name and every text, so a change in either misses.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from nlp.paths import embeddings_cache_dir


def cached_embeddings(encoder, texts: list[str], tag: str, directory: Path | None = None) -> np.ndarray:
    digest = hashlib.sha256(encoder.name.encode() + encoder.prefix.encode() + str(encoder.max_length).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "replace") + b"\0")
    file = (directory or embeddings_cache_dir()) / f"{tag}-{digest.hexdigest()[:16]}.npy"
    if file.is_file():
        return np.load(file)
    vectors = encoder.encode(texts)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(file)
    return vectors
