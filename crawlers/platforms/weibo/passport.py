"""Weibo's visitor passport: how a browser without a login gets the cookies the API wants.

Weibo's web client, finding no ``SUB`` cookie, runs a two-step handshake on
``passport.weibo.com`` (the shape public client libraries document and replay):

1. ``POST /visitor/genvisitor`` with a form ``cb=gen_callback&fp=<browser fingerprint JSON>``
   answers JSONP ``window.gen_callback && gen_callback({"retcode":20000000,"msg":"succ",
   "data":{"tid":"...","new_tid":true,"confidence":95}});``: a visitor ticket.
2. ``GET /visitor/visitor?a=incarnate&t=<tid>&w=<2 if new_tid else 3>&c=<confidence, 3 digits>
   &gc=&cb=cross_domain&from=weibo&_rand=<random>`` answers
   ``window.cross_domain && cross_domain({"retcode":20000000,"msg":"succ","data":{"sub":"...",
   "subp":"..."}});`` and sets the same values as the ``SUB`` and ``SUBP`` cookies.

The spider then sends ``SUB=...; SUBP=...`` to m.weibo.cn. ``retcode`` 20000000 is success;
anything else, a non-200 status or a body that is not this JSONP is a ``PassportError``
whose message says which step broke and how.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

PASSPORT_URL = "https://passport.weibo.com"
SUCCESS = 20000000
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded",
                "Referer": "https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter"}
FINGERPRINT = {"os": "1", "browser": "Chrome120,0,0,0", "fonts": "undefined", "screenInfo": "1920*1080*24",
               "plugins": ""}
"""What the web client reports about its browser; the passport does not check it closely."""
_JSONP = re.compile(r"^\s*(?:window\.\w+\s*&&\s*)?\w+\((?P<body>\{.*\})\)\s*;?\s*$", re.DOTALL)


class PassportError(ValueError):
    """The handshake did not give visitor cookies (the message says where and why)."""


@dataclass(frozen=True)
class Ticket:
    tid: str
    new_tid: bool
    confidence: int

    @property
    def cookie_value(self) -> str:
        """The ``tid`` cookie the web client sets between the two steps: ``<tid>__<confidence>``."""
        return f"{self.tid}__{self.confidence:03d}"


def genvisitor_url(base: str) -> str:
    return f"{base.rstrip('/')}/visitor/genvisitor"


def genvisitor_body() -> str:
    return urlencode({"cb": "gen_callback", "fp": json.dumps(FINGERPRINT, separators=(",", ":"))})


def incarnate_url(base: str, ticket: Ticket) -> str:
    query = urlencode({"a": "incarnate", "t": ticket.tid, "w": 2 if ticket.new_tid else 3,
                       "c": f"{ticket.confidence:03d}", "gc": "", "cb": "cross_domain", "from": "weibo",
                       "_rand": f"{random.random():.16f}"})
    return f"{base.rstrip('/')}/visitor/visitor?{query}"


def _answer(status: int, text: str) -> dict[str, Any]:
    if status != 200:
        raise PassportError(f"HTTP {status}")
    match = _JSONP.match(text)
    try:
        answer = json.loads(match.group("body") if match else text)
    except json.JSONDecodeError:
        raise PassportError(f"the answer is not the passport's JSONP: {text[:80]!r}") from None
    if not isinstance(answer, dict):
        raise PassportError(f"the answer is not an object: {text[:80]!r}")
    if answer.get("retcode") != SUCCESS:
        raise PassportError(f"retcode={answer.get('retcode')} {answer.get('msg', '')}".strip())
    if not isinstance(answer.get("data"), dict):
        raise PassportError("the answer has no data")
    return answer["data"]


def read_genvisitor(status: int, text: str) -> Ticket:
    data = _answer(status, text)
    tid = str(data.get("tid") or "").strip()
    if not tid:
        raise PassportError("no visitor ticket (data.tid) in the answer")
    try:
        confidence = int(data.get("confidence", 100))
    except (TypeError, ValueError):
        confidence = 100
    return Ticket(tid=tid, new_tid=bool(data.get("new_tid")), confidence=confidence)


def read_incarnate(status: int, text: str) -> str:
    """The ``Cookie`` header value for the API: ``SUB=...; SUBP=...``."""
    data = _answer(status, text)
    sub, subp = data.get("sub"), data.get("subp")
    if not isinstance(sub, str) or not sub:
        raise PassportError("no SUB cookie value (data.sub) in the answer")
    cookie = f"SUB={sub}"
    return f"{cookie}; SUBP={subp}" if isinstance(subp, str) and subp else cookie
