"""Cleaning and language detection on the kinds of text social media actually produces."""

from __future__ import annotations

import pytest

from nlp.language import detect
from nlp.textprep import EMPTY, MAX_CHARS, NO_WORDS, clean, model_text, skip_reason


@pytest.mark.parametrize("text, expected", [
    ("服务太差了，再也不来了", "zh"),
    ("這家餐廳的服務真的很好", "zh"),  # Traditional
    ("The flight was cancelled and nobody told us", "en"),
    ("Le vol a été annulé sans aucune explication", "fr"),
    ("我今天买了新的iPhone，感觉不错", "zh"),  # Chinese with an English brand name
    ("Great service at the Shanghai store, 服务很好 thanks", "en"),  # mostly English
    ("ありがとうございます", "ja"),
    ("", "und"),
    ("😡😡😡", "und"),
    ("https://example.com/a/b?c=d", "und"),
    ("@someone @another", "und"),
    ("12345 !!!", "und"),
    ("ok", "und"),
])
def test_language_of_short_and_mixed_posts(text, expected):
    assert detect(text) == expected


def test_clean_removes_surrogates_and_control_characters_and_bounds_length():
    raw = "bad\ud800 text\x00\x07 with\u200b zero-width\n\nand tabs\t" + "x" * 200_000
    cleaned = clean(raw)
    assert "\ud800" not in cleaned and "\x00" not in cleaned and "\x07" not in cleaned and "\u200b" not in cleaned
    assert cleaned.startswith("bad text with zero-width and tabs x")
    assert len(cleaned) <= MAX_CHARS
    cleaned.encode("utf-8")  # would raise on a lone surrogate


def test_title_is_part_of_the_text():
    assert clean("body text", title="Recall announced") == "Recall announced. body text"


@pytest.mark.parametrize("text, reason", [
    ("", EMPTY), ("   \n\t ", EMPTY), ("\x00\x01", EMPTY),
    ("🙂🙂🙂", NO_WORDS), ("https://t.co/xyz", NO_WORDS), ("@brand 123 !!!", NO_WORDS),
    ("服务差", None), ("bad", None), ("#fail", None),
])
def test_skip_reason(text, reason):
    assert skip_reason(clean(text)) == reason


def test_model_text_is_simplified_chinese():
    assert model_text("這家餐廳的服務很差") == "这家餐厅的服务很差"
    assert model_text("Plain English stays") == "Plain English stays"
