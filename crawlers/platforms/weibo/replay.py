"""Weibo's mobile site: the visitor passport (``/visitor/genvisitor`` then
``/visitor/visitor?a=incarnate``, JSONP answers, SUB/SUBP cookies; the home page's ``_T_WM``
visitor cookie is accepted too), then the container API ``/api/container/getIndex``
(real-time search ``100103type=61&q=`` and user timelines ``107603<uid>``) with ``page``
paging and ``mblog`` cards."""

from __future__ import annotations

import html
import json
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote

from crisiswatch.core.model import Author, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native, stable_number

PLATFORM = "weibo"
PAGE = 10
LIST_TEXT_LIMIT = 140
"""Lists show about this many characters of a long post, then a link to the full text."""
CHINA = timezone(timedelta(hours=8))
_TAG = re.compile(r"#([^#\s]{1,40})#")


def weibo_count(value: int | None) -> int | str:
    """Counts as the mobile API writes them: plain below 10,000, then ``"1.2万"`` / ``"3.1亿"``."""
    value = value or 0
    if value >= 100_000_000:
        return f"{value / 100_000_000:.1f}亿"
    if value >= 10_000:
        return f"{value / 10_000:.1f}万"
    return value


def render_text(text: str) -> str:
    escaped = html.escape(text).replace("\n", "<br />")
    return _TAG.sub(lambda m: f'<a  href="https://m.weibo.cn/search?containerid=231522type%3D1%26t%3D10%26q%3D%23'
                              f'{quote(m.group(1))}%23&isnewpage=1" data-hide=""><span class="surl-text">'
                              f"#{m.group(1)}#</span></a>", escaped)


def render_mblog(catalog: Catalog, post: Post, nested: bool = True) -> dict[str, Any]:
    mid = native(post)
    uid = int(post.author.id) if post.author.id and post.author.id.isdigit() else stable_number(post.author.handle or "u", 10)
    followers = catalog.author_followers(PLATFORM, post)
    blog: dict[str, Any] = {
        "visible": {"type": 0, "list_id": 0},
        "created_at": post.created_at.astimezone(CHINA).strftime("%a %b %d %H:%M:%S %z %Y"),
        "id": mid, "mid": mid, "can_edit": False, "show_additional_indication": 0, "text": render_text(post.text),
        "textLength": len(post.text.encode("gbk", errors="replace")), "source": "iPhone客户端", "favorited": False,
        "pic_ids": [], "pic_num": 0, "is_paid": False, "mblog_vip_type": 0,
        "user": {"id": uid, "screen_name": post.author.handle or post.author.name or f"用户{uid}",
                 "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{uid}.jpg",
                 "profile_url": f"https://m.weibo.cn/u/{uid}?uid={uid}", "statuses_count": 120,
                 "verified": post.author.verified, "verified_type": 0 if post.author.verified else -1,
                 "close_blue_v": False, "description": "", "gender": "f", "mbtype": 0, "svip": 0, "urank": 12,
                 "mbrank": 0, "follow_me": False, "following": False, "follow_count": 180,
                 "followers_count": weibo_count(followers), "followers_count_str": str(weibo_count(followers)),
                 "cover_image_phone": "https://tva1.sinaimg.cn/crop.0.0.640.640.640/default.jpg"},
        "reposts_count": weibo_count(post.engagement.shares), "comments_count": weibo_count(post.engagement.replies),
        "reprint_cmt_count": 0, "attitudes_count": weibo_count(post.engagement.likes),
        "pending_approval_count": 0, "isLongText": len(post.text) > LIST_TEXT_LIMIT, "show_mlevel": 0,
        "mblogtype": 0,
        "region_name": "发布于 上海", "bid": f"N{stable_number(mid, 8)}", "rid": "0_0_0_0_0",
    }
    if blog["isLongText"]:
        blog["text"] = render_text(post.text[:LIST_TEXT_LIMIT]) + f'...<a href="/status/{mid}">全文</a>'
    if nested and post.parent_id:
        parent = catalog.by_native.get(PLATFORM, {}).get(post.parent_id.split(":", 1)[1])
        if parent is not None:
            blog["retweeted_status"] = render_mblog(catalog, parent, nested=False)
    return blog


def _jsonp(callback: str, payload: dict[str, Any], cookie: str | None = None) -> Reply:
    """The passport answers JavaScript: ``window.cb && cb({...});``."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    headers = {"Set-Cookie": cookie} if cookie else {}
    return Reply.text(f"window.{callback} && {callback}({body});", "application/javascript; charset=utf-8",
                      headers=headers)


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    if path in ("/", ""):
        return Reply.text("<!DOCTYPE html><html><head><title>微博</title></head><body></body></html>",
                          "text/html; charset=utf-8",
                          headers={"Set-Cookie": "_T_WM=replay" + str(stable_number(str(now), 8)) + "; Path=/"})
    if path == "/visitor/genvisitor" and method == "POST":
        tid = f"replay{stable_number(str(now) + body.decode('latin-1'), 12)}"
        return _jsonp("gen_callback", {"retcode": 20000000, "msg": "succ",
                                       "data": {"tid": tid, "new_tid": True, "confidence": 95}})
    if path == "/visitor/visitor" and (query.get("a") or [""])[0] == "incarnate":
        tid = (query.get("t") or [""])[0]
        if not tid.startswith("replay"):
            return _jsonp("cross_domain", {"retcode": 20003001, "msg": "tid is invalid", "data": None})
        sub, subp = f"_2AkM{tid}", "0033WrSXqPxfM72-Ws9jqgMF55529P9D9W5replay"
        return _jsonp("cross_domain", {"retcode": 20000000, "msg": "succ", "data": {"sub": sub, "subp": subp}},
                      cookie=f"SUB={sub}; Path=/; HttpOnly")
    cookie = headers.get("cookie", "")
    if "_T_WM=" not in cookie and "SUB=" not in cookie:
        return Reply.json({"ok": -100, "url": "https://passport.weibo.cn/signin/welcome?entry=mweibo&r=https%3A%2F%2Fm.weibo.cn%2F"})
    if path == "/statuses/extend":
        post = catalog.by_native.get(PLATFORM, {}).get((query.get("id") or [""])[0])
        if post is None or post.created_at > now:
            return Reply.json({"ok": 0, "msg": "微博不存在或暂无查看权限!"})
        return Reply.json({"ok": 1, "data": {"ok": 1, "longTextContent": render_text(post.text),
                                             "reposts_count": weibo_count(post.engagement.shares),
                                             "comments_count": weibo_count(post.engagement.replies),
                                             "attitudes_count": weibo_count(post.engagement.likes)}})
    if path != "/api/container/getIndex":
        return Reply.json({"ok": 0, "msg": "not found"}, status=404)
    container = (query.get("containerid") or [""])[0]
    page = int((query.get("page") or ["1"])[0] or 1)
    if container.startswith("100103"):
        keyword = (parse_qs(container[6:]).get("q") or [""])[0]
        posts = catalog.visible(PLATFORM, now, lambda p: catalog.mentions(p, keyword))
    elif container.startswith("107603"):
        uid = container[6:]
        posts = catalog.visible(PLATFORM, now, lambda p: p.author.id == uid)
    else:
        return Reply.json({"ok": 0, "msg": "参数错误"})
    chosen = posts[(page - 1) * PAGE: page * PAGE]
    if not chosen:
        return Reply.json({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}})
    cards = [{"card_type": 9, "itemid": f"{container}_-_{native(p)}", "scheme": f"https://m.weibo.cn/status/{native(p)}",
              "mblog": render_mblog(catalog, p), "show_type": 0} for p in chosen]
    grouped = [{"card_type": 11, "show_type": 0, "card_group": cards}] if container.startswith("100103") else cards
    more = page * PAGE < len(posts)
    return Reply.json({"ok": 1, "data": {
        "cardlistInfo": {"containerid": container, "v_p": 42, "show_style": 1, "total": len(posts),
                         "page": page + 1 if more else None, "can_shared": 0},
        "cards": grouped, "scheme": "sinaweibo://cardlist?containerid=" + quote(container)}})


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    terms: list[str] = []
    for watchlist in catalog.scenario.config.get("watchlists", []):
        for term in watchlist.get("terms", []):
            if term not in terms:
                terms.append(term)
    return {"targets": {"keywords": terms or ["*"]}}


# ---- how scenarios write Weibo posts -------------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    """A mid: 16 digits growing with time."""
    return str(5012345678900000 + counter * 1000 + rng.randrange(1000))


def default_url(native_id: str, author: Author) -> str:
    return f"https://m.weibo.cn/detail/{native_id}"


def synthetic(index: int) -> SyntheticShape:
    """Every tenth post is long: lists cut it, the full text is one more call."""
    return SyntheticShape(native=str(5_000_000_000_000_000 + index), language="zh", long_text=index % 10 == 7)
