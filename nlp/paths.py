"""Where crisiswatch keeps rebuilt models and cached embeddings (outside the repository).

``$CRISISWATCH_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/crisiswatch`` or
``~/.cache/crisiswatch``. Nothing here is ever committed: it is rebuilt from the installed
packages on first use.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("CRISISWATCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crisiswatch"


def models_dir() -> Path:
    return cache_dir() / "models"


def embeddings_cache_dir() -> Path:
    return cache_dir() / "embeddings"


PACKAGE_DIR = Path(__file__).resolve().parent
SEEDS_DIR = PACKAGE_DIR / "seeds"
BUILTIN_HEADS_DIR = PACKAGE_DIR / "builtin_heads"
