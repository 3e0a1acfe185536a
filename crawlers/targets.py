"""The base of every platform's ``targets:`` model.

A source's ``targets`` say what to collect (hashtags, accounts, feeds ...); each platform
declares the keys its spider reads as a pydantic model, and the config validates a source's
targets through it, so a misspelt key is an error that names the file and line instead of a
target that is silently never crawled.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Targets(BaseModel):
    """Every key is a list of strings; keys the platform does not read are errors."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
