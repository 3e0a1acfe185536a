"""A few thousand hostile lines mixed with good ones: the import never crashes, stores every
good post, and reports every bad line by number (issue 12, "Done when").

The corpus is generated here from a fixed seed, so a failure is reproducible: each line is
built with what must happen to it (stored, rejected, or stored and reported).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from crisiswatch.core.store.ingest import ingest_jsonl
from crisiswatch.core.store.sqlite import SqliteStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
GOOD, BAD, ODD = "stored", "rejected", "stored and reported"
ALPHABET = "abcxyz 召回奶粉質量退貨😀🍼 \t\"\\'<>&{}[]:,\u200b\u00e9\u0301\u0000\u2028"


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))


def _good(rng: random.Random, n: int) -> dict:
    shape = rng.randrange(4)
    when = rng.choice(["2026-03-01T08:00:00Z", 1772352000, 1772352000123, "Sun, 01 Mar 2026 08:00:00 +0000"])
    if shape == 0:
        return {"id": f"weibo:g{n}", "source": "weibo", "text": _text(rng), "created_at": when}
    if shape == 1:
        return {"id": f"g{n}", "source": "weibo", "text": _text(rng), "created_at": when}  # native id
    if shape == 2:
        return {"mid": f"g{n}", "platform": "weibo", "content": _text(rng), "timestamp": when,
                "attitudes_count": rng.choice([1e400, -5, "many", None, [1, 2], {"count": 3}]),
                "user": rng.choice([{"screen_name": "a", "followers_count": "1e999"}, "bob", None, 7])}
    return {"id_str": f"g{n}", "site": "weibo", "full_text": _text(rng), "created_at": when,
            "extra": {"deep": [[[{"x": rng.random()}]]]}}


_BAD: list[Callable[[random.Random, int], bytes | str]] = [
    lambda rng, n: bytes(rng.randrange(128, 256) for _ in range(rng.randint(1, 40))),
    lambda rng, n: json.dumps({"id": f"weibo:b{n}", "text": "召回质量"}, ensure_ascii=False).encode("gb18030"),
    lambda rng, n: json.dumps({"id": f"weibo:b{n}", "text": _text(rng)})[: rng.randint(1, 20)],
    lambda rng, n: rng.choice(["[1, 2]", '"a string"', "42", "null", "true", "{'single': 'quotes'}"]),
    lambda rng, n: "[" * 100_000 + "]" * 100_000,
    lambda rng, n: json.dumps({"mid": f"b{n}", "content": "x", "timestamp": rng.choice([1e20, -1e20, 1e308])}),
    lambda rng, n: '{"mid": "b%d", "content": "x", "timestamp": %s}' % (n, rng.choice(["Infinity", "NaN"])),
    lambda rng, n: json.dumps({"id": f"weibo:b{n}", "source": "weibo", "text": "x",
                               "created_at": rng.choice(["0001-01-01T00:00:00Z", 0, "2099-01-01T00:00:00Z",
                                                         True, {"$date": 1}, [2026], "yesterday"])}),
    lambda rng, n: json.dumps({"source": "weibo", "text": "no id", "created_at": "2026-03-01T08:00:00Z"}),
    lambda rng, n: json.dumps({"id": f"weibo:b{n}", "source": "weibo", "text": "no time"}),
    lambda rng, n: json.dumps({"id": [n], "source": "weibo", "text": "x", "created_at": "2026-03-01T08:00:00Z"}),
    lambda rng, n: json.dumps({"id": f"weibo:b{n}", "source": "weibo", "text": {"nested": ["junk"]},
                               "created_at": "2026-03-01T08:00:00Z"}),
]


def _odd(rng: random.Random, n: int) -> str:
    kind = rng.choices([0, 1, 2], weights=[48, 48, 4])[0]  # long texts are few: each costs ~0.1 s of terms
    if kind == 0:  # a lone surrogate: valid JSON, not valid text
        return '{"id": "weibo:o%d", "source": "weibo", "text": "bad \\udc80 end", "created_at": 1772352000}' % n
    if kind == 1:  # dated 3 hours ahead: local time without its offset
        return json.dumps({"id": f"weibo:o{n}", "source": "weibo", "text": "x", "created_at": "2026-03-01T15:00:00Z"})
    return json.dumps({"id": f"weibo:o{n}", "source": "weibo", "text": "长" * 200_000,
                       "created_at": "2026-03-01T08:00:00Z"}, ensure_ascii=False)


def corpus(seed: int, lines: int) -> tuple[list[bytes], dict[int, tuple[str, str | None]]]:
    """The file's lines and, by line number, what must happen and the post id (if stored)."""
    rng = random.Random(seed)
    out: list[bytes] = []
    expect: dict[int, tuple[str, str | None]] = {}
    good_ids: list[str] = []
    for number in range(1, lines + 1):
        roll = rng.random()
        if roll < 0.6 or not good_ids:
            record = _good(rng, number)
            line: bytes | str = json.dumps(record, ensure_ascii=rng.random() < 0.5)
            good_ids.append("weibo:g%d" % number)
            expect[number] = (GOOD, good_ids[-1])
        elif roll < 0.9:
            line = rng.choice(_BAD)(rng, number)
            expect[number] = (BAD, None)
        elif roll < 0.97:
            line = _odd(rng, number)
            expect[number] = (ODD, f"weibo:o{number}")
        else:  # the same id again: stored (the later line wins) and reported
            again = rng.choice(good_ids)
            line = json.dumps({"id": again, "source": "weibo", "text": "again", "created_at": 1772352000})
            expect[number] = (ODD, again)
        raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
        out.append(raw.replace(b"\n", b" ").replace(b"\r", b" "))
    out.insert(rng.randrange(len(out)), b"\"" + b"\xe5\x8f" * 5_000_000 + b"\"")  # 10 MB of broken UTF-8
    return out, expect


def test_hostile_corpus_loses_no_good_post_and_reports_every_bad_line(tmp_path: Path) -> None:
    lines, expect = corpus(seed=12, lines=3000)
    # the inserted 10 MB line shifts the numbers after it
    big = next(i for i, raw in enumerate(lines, start=1) if len(raw) > 1_000_000 and raw.startswith(b'"\xe5'))
    expect = {(n if n < big else n + 1): e for n, e in expect.items()}
    expect[big] = (BAD, None)
    lines.append(json.dumps({"id": "weibo:huge", "source": "weibo", "text": "x" * 10_000_000,
                             "created_at": "2026-03-01T08:00:00Z"}).encode())
    expect[len(lines)] = (ODD, "weibo:huge")
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with SqliteStore(tmp_path / "cw.db", term_workers=0) as store:
        summary = ingest_jsonl(store, path, now=NOW, batch_size=500)
        stored = {post.id for post in store.iter_posts(batch_size=5000)}
        huge = store.get_posts(["weibo:huge"])[0]
    reported = {e.line for e in summary.errors}
    skipped = {e.line for e in summary.errors if e.skipped}
    must_store = {pid for what, pid in expect.values() if what != BAD}
    assert must_store <= stored, sorted(must_store - stored)[:10]
    assert stored <= must_store  # nothing from a rejected line slipped in
    bad_lines = {n for n, (what, _) in expect.items() if what == BAD}
    assert bad_lines == skipped, (sorted(bad_lines - skipped)[:10], sorted(skipped - bad_lines)[:10])
    odd_lines = {n for n, (what, _) in expect.items() if what == ODD}
    assert odd_lines <= reported, sorted(odd_lines - reported)[:10]
    assert all(e.reason for e in summary.errors)
    assert len(huge.text) < 100_100 and "truncated" in huge.text
    assert summary.refused == 0 and summary.failed == []
