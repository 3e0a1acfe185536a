"""Terms are what analysts see as "top terms" evidence: they must be real words."""

from crisiswatch.core.text import extract_terms, to_simplified


def test_latin_words_stop_where_chinese_starts() -> None:
    terms = extract_terms("qinhe直播间抽奖中了一箱乳酸菌饮品 ACME航空")
    assert "qinhe" in terms and "acme" in terms
    assert "直播间" in terms and "航空" in terms
    assert not any(any(c.isascii() for c in t) and any(not c.isascii() for c in t) for t in terms)


def test_traditional_chinese_gives_the_same_terms_as_simplified() -> None:
    assert extract_terms("牛奶檢出致病菌，消費者維權，質量問題") == extract_terms("牛奶检出致病菌，消费者维权，质量问题")
    assert "质量" in extract_terms("質量問題")
    assert to_simplified("質量") == "质量" and to_simplified("plain text") == "plain text"


def test_urls_mentions_and_stop_words_are_not_terms() -> None:
    terms = extract_terms("@bob The flight was cancelled again https://example.com/x #AcmeFail")
    assert terms == ["flight", "cancelled", "#acmefail"]


def test_full_width_and_case_fold_to_one_term() -> None:
    assert extract_terms("ＡＣＭＥ Acme acme") == ["acme"]
