"""Fixtures for the NLP tests: tiny models built in code (fast), a config pointing at them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crisiswatch.core.config import Config
from crisiswatch.core.model import Post
from nlp import registry
from nlp.tiny import make_tiny_models

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    return make_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def tiny_config(tiny_models, tmp_path):
    registry.clear_cache()
    yield Config(data_dir=str(tmp_path / "data"), models=tiny_models.model_copy(update={"topics": False}),
                 store={"sqlite_path": str(tmp_path / "data" / "store.db")})
    registry.clear_cache()


def make_posts(texts: list[str], source: str = "test") -> list[Post]:
    return [Post(id=f"{source}:{i}", source=source, text=text, created_at=T0 + timedelta(minutes=i))
            for i, text in enumerate(texts)]
