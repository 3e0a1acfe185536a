"""Label sets of the three classification tasks and how outside models' labels map onto them.

Descriptions are written for this project in English and Chinese; the zero-shot heads embed
them (E5 ``passage:``) and compare posts against them, so a team can add a category by
writing one sentence in the config.
"""

from __future__ import annotations

SENTIMENTS = ["negative", "neutral", "positive"]

EMOTIONS = ["anger", "fear", "sadness", "joy", "surprise", "neutral"]
"""``fear`` covers anxiety and panic; ``sadness`` covers disappointment and frustration."""

EMOTION_DESCRIPTIONS = {
    "anger": "angry, furious, outraged, indignant; 愤怒，气愤，恼火，愤慨，太过分了",
    "fear": "afraid, worried, anxious, scared, panic; 害怕，担心，焦虑，恐慌，不安",
    "sadness": "sad, disappointed, frustrated, heartbroken; 难过，伤心，失望，沮丧，心寒",
    "joy": "happy, glad, grateful, delighted, hopeful; 开心，高兴，感谢，满意，期待",
    "surprise": "surprised, shocked, unexpected, astonished; 惊讶，震惊，没想到，竟然",
    "neutral": "neutral factual statement or question without emotion; 客观陈述，询问，通知，没有情绪",
}

CATEGORY_DESCRIPTIONS = {
    "service_quality": "poor customer service, rude or unhelpful staff, long waits; 服务质量差，态度恶劣，排队太久",
    "price": "price too high, overcharged, hidden fees, refund of money; 价格太贵，乱收费，多收钱，退款",
    "communication": "no reply, no notice, unclear or misleading information; 沟通不畅，没人回复，没有通知，信息不清楚",
    "policy_change": "new rules or terms, changed policy, cancelled benefits; 政策变动，规则修改，条款调整，取消优惠",
    "product_quality": "defective, broken, unsafe or spoiled product, health risk; 产品质量问题，坏了，不安全，变质，食品安全",
    "delivery": "late, delayed or cancelled flight, train or order, lost or damaged luggage, shipping; 航班延误，航班取消，物流慢，快递丢失，送货延迟，行李丢了",
    "technical": "app or website down, outage, bug, cannot log in or pay; 系统故障，网站崩溃，App闪退，无法登录",
    "suggestion": "a constructive suggestion or feature request, you should add, it would be nice if; 建议，希望增加功能，改进意见",
    "other": "general comment, praise or chat not about a specific problem; 其他，闲聊，一般评论",
}

_SYNONYMS = {
    # sentiment
    "neg": "negative", "negative": "negative", "label_0": None, "1 star": "negative", "2 stars": "negative",
    "pos": "positive", "positive": "positive", "4 stars": "positive", "5 stars": "positive",
    "neu": "neutral", "neutral": "neutral", "3 stars": "neutral", "none": "neutral", "others": "neutral",
    # emotion
    "anger": "anger", "angry": "anger", "annoyance": "anger", "disgust": "anger", "rage": "anger",
    "fear": "fear", "anxiety": "fear", "nervousness": "fear", "panic": "fear", "worry": "fear",
    "sadness": "sadness", "sad": "sadness", "disappointment": "sadness", "grief": "sadness",
    "frustration": "sadness",
    "joy": "joy", "happiness": "joy", "happy": "joy", "love": "joy", "optimism": "joy",
    "gratitude": "joy", "admiration": "joy", "excitement": "joy", "like": "joy",
    "surprise": "surprise", "surprised": "surprise", "realization": "surprise",
}


def canonical_label(name: str, allowed: list[str]) -> str | None:
    """Map an outside model's label name onto one of ``allowed`` (None when it has no match)."""
    key = name.strip().lower()
    if key in allowed:
        return key
    mapped = _SYNONYMS.get(key)
    return mapped if mapped in allowed else None


def category_descriptions(configured: dict[str, str]) -> dict[str, str]:
    """The configured taxonomy, or the built-in one when the config leaves it empty."""
    return dict(configured) if configured else dict(CATEGORY_DESCRIPTIONS)
