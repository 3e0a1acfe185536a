"""Bilibili's web API: video info (``/x/web-interface/view``), comments through the
maintained ``/x/v2/reply/main`` (``mode=2`` newest first, ``next``/``data.cursor`` paging by
floor number) and the older ``/x/v2/reply`` (``pn``/``ps`` paging), and follower counts
(``/x/relation/stat``)."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

from crisiswatch.core.model import Engagement, Post
from crisiswatch.core.replay import Catalog, Reply, SyntheticShape, native, stable_number

PLATFORM = "bilibili"
DEFAULT_VIDEO = "BV1xx411c7mD"


def video_of(post: Post) -> str:
    return post.thread_id.split(":", 1)[1] if post.thread_id else DEFAULT_VIDEO


def aid_of(video: str) -> int:
    """The numeric id (aid) of a video: ``av123`` -> 123, a BV id -> a stable number."""
    lowered = video.lower()
    if lowered.startswith("av") and lowered[2:].isdigit():
        return int(lowered[2:])
    if video.isdigit():
        return int(video)
    return 100_000_000 + stable_number(video, 8)


def _ok(data: Any) -> Reply:
    return Reply.json({"code": 0, "message": "0", "ttl": 1, "data": data})


def _error(code: int, message: str) -> Reply:
    return Reply.json({"code": code, "message": message, "ttl": 1})


def render_reply(catalog: Catalog, post: Post, aid: int, children: list[Post]) -> dict[str, Any]:
    rpid = int(native(post)) if native(post).isdigit() else stable_number(native(post), 11)
    mid = post.author.id if post.author.id and post.author.id.isdigit() else str(stable_number(post.author.handle or "u", 9))
    parent = native_of_parent(post)
    return {
        "rpid": rpid, "oid": aid, "type": 1, "mid": int(mid), "root": parent, "parent": parent, "dialog": parent,
        "count": len(children), "rcount": post.engagement.replies or len(children), "state": 0, "fansgrade": 0,
        "attr": 0, "ctime": int(post.created_at.timestamp()), "rpid_str": str(rpid), "root_str": str(parent),
        "parent_str": str(parent), "like": post.engagement.likes or 0, "action": 0,
        "member": {"mid": mid, "uname": post.author.handle or post.author.name or f"bili_{mid}", "sex": "保密",
                   "sign": "", "avatar": "https://i0.hdslb.com/bfs/face/member/noface.jpg", "rank": "10000",
                   "face_nft_new": 0, "is_senior_member": 0,
                   "level_info": {"current_level": 4, "current_min": 0, "current_exp": 0, "next_exp": 0},
                   "pendant": {"pid": 0, "name": "", "image": ""}, "nameplate": {"nid": 0, "name": ""},
                   "official_verify": {"type": 0 if post.author.verified else -1, "desc": ""},
                   "vip": {"vipType": 0, "vipStatus": 0}, "fans_detail": None},
        "content": {"message": post.text, "members": [], "jump_url": {}, "max_line": 6},
        "replies": [render_reply(catalog, c, aid, []) for c in children] or None,
        "assist": 0, "up_action": {"like": False, "reply": False}, "invisible": False,
        "reply_control": {"max_line": 6, "time_desc": "", "location": "IP属地：上海"}, "folder": {
            "has_folded": False, "is_folded": False, "rule": ""},
    }


def native_of_parent(post: Post) -> int:
    if not post.parent_id:
        return 0
    value = post.parent_id.split(":", 1)[1]
    return int(value) if value.isdigit() else stable_number(value, 11)


def handle(catalog: Catalog, now: datetime, method: str, path: str, query: dict[str, list[str]],
           headers: dict[str, str], body: bytes, prefix: str) -> Reply:
    one = lambda name, default=None: (query.get(name) or [default])[0]  # noqa: E731
    posts = catalog.posts.get(PLATFORM, [])
    if path == "/x/web-interface/view":
        wanted = one("bvid") or f"av{one('aid', '')}"
        for post in posts:
            video = video_of(post)
            if video == wanted or aid_of(video) == aid_of(wanted):
                aid = aid_of(video)
                count = sum(1 for p in posts if video_of(p) == video)
                return _ok({"bvid": video if video.startswith("BV") else "", "aid": aid, "videos": 1, "tid": 228,
                            "tname": "日常", "copyright": 1, "title": f"视频 {video}", "pubdate": int(posts[0].created_at.timestamp()),
                            "ctime": int(posts[0].created_at.timestamp()), "desc": "", "duration": 300,
                            "owner": {"mid": 1, "name": "up主", "face": ""},
                            "stat": {"aid": aid, "view": count * 40, "danmaku": 0, "reply": count, "favorite": 0,
                                     "coin": 0, "share": 0, "like": count * 3}})
        return _error(-404, "啥都木有")
    if path == "/x/relation/stat":
        vmid = one("vmid", "")
        for post in posts:
            if post.author.id == vmid:
                return _ok({"mid": int(vmid), "following": 50, "whisper": 0, "black": 0,
                            "follower": catalog.author_followers(PLATFORM, post) or 0})
        return _ok({"mid": int(vmid) if vmid.isdigit() else 0, "following": 0, "whisper": 0, "black": 0, "follower": 0})
    if path not in ("/x/v2/reply", "/x/v2/reply/main"):
        return _error(-404, "啥都木有")
    try:
        aid = int(one("oid", ""))
    except ValueError:
        return _error(-400, "请求错误")
    visible = catalog.visible(PLATFORM, now, lambda p: aid_of(video_of(p)) == aid)
    top = [p for p in visible if not p.parent_id]
    children: dict[int, list[Post]] = {}
    for post in visible:
        if post.parent_id:
            children.setdefault(native_of_parent(post), []).append(post)

    def rendered(chosen: list[Post]) -> list[dict[str, Any]]:
        return [render_reply(catalog, p, aid, children.get(int(native(p)) if native(p).isdigit() else -1, []))
                for p in chosen]

    if path == "/x/v2/reply/main":
        return main_page(top, visible, rendered, int(one("next", 0) or 0), int(one("mode", 3) or 3))
    size = max(1, min(int(one("ps", 20)), 49))
    number = max(1, int(one("pn", 1)))
    replies = rendered(top[(number - 1) * size: number * size])
    return _ok({"page": {"num": number, "size": size, "count": len(top), "acount": len(visible)},
                "config": {"showtopic": 1, "show_up_flag": True, "read_only": False},
                "replies": replies or None, "hots": None, "upper": {"mid": 1}, "top": None, "notice": None,
                "vote": 0, "blacklist": 0, "assist": 0, "mode": 3, "support_mode": [1, 2, 3],
                "folder": {"has_folded": False, "is_folded": False, "rule": ""}, "lottery_card": None,
                "show_bvid": True, "control": {"input_disable": False, "root_input_text": "发一条友善的评论"}})


MAIN_PAGE = 20
"""``/x/v2/reply/main`` answers 20 replies a page."""


def main_page(top: list[Post], visible: list[Post], rendered: Any, cursor: int, mode: int) -> Reply:
    """``/x/v2/reply/main`` newest first (mode 2): replies are numbered by floor, oldest 1;
    ``next=0`` starts at the newest, ``next=N`` at floor N, and ``cursor.next`` names the floor
    the following page starts at."""
    if mode != 2:
        return _error(-400, "请求错误")  # the replay serves the time order only
    floors = len(top)
    start = floors if cursor <= 0 else min(cursor, floors)
    first = floors - start  # index in the newest-first list
    chosen = top[first: first + MAIN_PAGE]
    following = start - len(chosen)
    return _ok({
        "cursor": {"is_begin": cursor <= 0, "prev": start, "next": following, "is_end": following < 1,
                   "mode": 2, "mode_text": "", "all_count": len(visible), "support_mode": [2, 3], "name": "最新评论",
                   "pagination_reply": {"next_offset": json.dumps({"type": 3, "direction": 1,
                                                                   "Data": {"cursor": following}})},
                   "session_id": ""},
        "replies": rendered(chosen), "top": {"admin": None, "upper": None, "vote": None}, "top_replies": [],
        "upper": {"mid": 1}, "notice": None, "vote": 0, "blacklist": 0, "assist": 0, "lottery_card": None,
        "config": {"showtopic": 1, "show_up_flag": True, "read_only": False}, "show_bvid": True,
        "folder": {"has_folded": False, "is_folded": False, "rule": ""},
        "control": {"input_disable": False, "root_input_text": "发一条友善的评论"}, "note": 1})


def source(catalog: Catalog, base_url: str) -> dict[str, Any]:
    return {"targets": {"videos": sorted({video_of(p) for p in catalog.posts.get(PLATFORM, [])})}}


# ---- how scenarios write Bilibili replies --------------------------------------------------
def native_id(counter: int, post: Post, rng: random.Random) -> str:
    """An rpid."""
    return str(230_000_000_000 + counter * 13 + rng.randrange(13))


def engagement(likes: int, shares: int, replies: int, reach: float) -> Engagement:
    """Replies have likes and sub-replies, no shares."""
    return Engagement(likes=likes, replies=replies)


def synthetic(index: int) -> SyntheticShape:
    return SyntheticShape(native=str(200_000_000_000 + index), thread="bilibili:BV1Zf4y1z7Aa", language="zh")
