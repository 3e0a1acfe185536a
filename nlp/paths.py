"""Where nlp keeps its files, in one place so that no module imports another just for a path.

Two kinds of place:

* the cache (rebuilt models, cached embeddings), outside the repository and shared by every
  config: ``$CRISISWATCH_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/crisiswatch`` or
  ``~/.cache/crisiswatch``. Nothing there is ever committed: it is rebuilt from the installed
  packages on first use;
* the enrichment state of one deployment (the topic model, the near-duplicate index), under
  the config's ``data_dir``, because it belongs with that deployment's store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crisiswatch.core.config import Config


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


def state_dir(config: "Config") -> Path:
    """Where enrichment keeps state between runs: the topic model and the duplicate index."""
    return Path(config.data_dir) / "nlp"


def topics_dir(config: "Config") -> Path:
    """The saved BERTopic model that ``enrich`` assigns to and maintenance refits."""
    return state_dir(config) / "topics"


def duplicate_index_path(config: "Config") -> Path:
    """The MinHash LSH index, kept so that a repost arriving a day later joins the original's group."""
    return state_dir(config) / "near_duplicates.pkl"
