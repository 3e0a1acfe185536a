"""WatchlistMatcher: aliases in both languages, scripts, width, case, word edges, exclusions."""

from crisiswatch.core.config import Watchlist
from crisiswatch.core.watchlist import WatchlistMatcher

MATCHER = WatchlistMatcher([
    Watchlist(name="zephyr", terms=["Zephyr Cola", "泽飞可乐", "#ZephyrCola", "ZC"], exclude=["zephyr cola recipe"]),
    Watchlist(name="apple", terms=["Apple"], exclude=["apple pie"]),
    Watchlist(name="recall", kind="lexicon", terms=["recall", "召回"]),
])


def test_english_and_chinese_aliases_match_the_same_watchlist():
    assert MATCHER.match("Zephyr Cola tastes flat") == ["zephyr"]
    assert MATCHER.match("刚买的泽飞可乐漏气了") == ["zephyr"]


def test_traditional_chinese_matches_simplified_terms_and_back():
    assert MATCHER.match("澤飛可樂宣布召回") == ["zephyr", "recall"]
    traditional_terms = WatchlistMatcher([Watchlist(name="t", terms=["澤飛可樂"])])
    assert traditional_terms.match("泽飞可乐") == ["t"]


def test_case_and_full_width_forms_are_ignored():
    assert MATCHER.match("ＺＥＰＨＹＲ ＣＯＬＡ is back") == ["zephyr"]
    assert MATCHER.match("zephyr   COLA") == ["zephyr"]
    assert MATCHER.match("#zephyrcola trending") == ["zephyr"]


def test_latin_terms_match_whole_words_only_but_chinese_context_is_fine():
    assert MATCHER.match("Pineapple juice") == []
    assert MATCHER.match("Applesauce") == []
    assert MATCHER.match("ZCX-200 router") == []
    assert MATCHER.match("买了ZC的饮料") == ["zephyr"]
    assert MATCHER.match("recalled") == []


def test_exclusions_remove_only_their_own_watchlist():
    assert MATCHER.match("My apple pie recipe") == []
    assert MATCHER.match("Zephyr Cola recipe: add a recall of summer") == ["recall"]
    assert MATCHER.match("Apple phones") == ["apple"]


def test_title_counts_and_empty_text_matches_nothing():
    assert MATCHER.match("", title="Zephyr Cola recall") == ["zephyr", "recall"]
    assert MATCHER.match("") == []
    assert MATCHER.names == ["zephyr", "apple", "recall"]
