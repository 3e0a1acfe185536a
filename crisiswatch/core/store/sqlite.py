"""Embedded SQLite store: the default when no Elasticsearch URL is configured.

Layout (one file, WAL journal so readers never wait for the crawler or enricher):

* ``posts`` keeps each post as JSON plus the columns queries filter and sort on
  (time in integer microseconds since the epoch, source, effective language, reach,
  engagement total, and the enrichment labels copied out of the enrichment JSON).
* ``posts_fts`` is an FTS5 index with the trigram tokenizer over title and text (external
  content: the text is stored once, in ``posts``). Trigrams make substring search work for
  Chinese, which has no spaces.
* ``posts_grams`` indexes the CJK characters and character pairs of the same columns
  (``crisiswatch.core.store.cjk_grams``): query terms of one or two CJK characters (召回, 天),
  which trigrams cannot answer, are index lookups too. Only other short terms ("EV", "5G")
  fall back to ``instr`` over the rows the other conditions leave.
* ``post_hours`` keeps, per hour of ``created_us``, the lowest and highest pk of the posts
  written for it. A text query over a time window asks the full-text indexes only for the
  pks posts of that window can have (``rowid BETWEEN``): posts arrive roughly in time order,
  so a day's query reads about a day of each term's matches instead of every match in the
  store. A superset, never pruned (a deleted or moved post leaves its hour's range as it was).
* ``post_watchlists`` (watchlist, created time, post) answers the detectors' most common
  question, "how many posts of watchlist W in this window", from one covering index.
* ``posts.terms`` holds the post's terms (``crisiswatch.core.text.extract_terms``) as a JSON
  array, computed once at write time, so top terms is a count over stored lists rather
  than a re-tokenisation of every matching post.

Each thread gets its own connection (Airflow and Scrapy call from threads); SQLite itself
serialises writers, and ``busy_timeout`` makes a second writer wait instead of failing.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import inspect
import json
import multiprocessing
import os
import sqlite3
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from crisiswatch.core.model import CrawlHealth, Enrichment, Incident, IncidentEvent, IncidentState, Post, as_utc
from crisiswatch.core.store.base import (Bucket, FingerprintTaken, IncidentConflict, ItemError, PostFilter, PostOrder,
                                    Store, StoreError, TeamLabel, TermCount, WriteResult)
from crisiswatch.core.store.cjk_grams import gram_row, is_gram_term
from crisiswatch.core.store.query import And, Label, Node, Not, Or, Term, parse_query, script_variants
from crisiswatch.core.text import extract_terms

SCHEMA_VERSION = 6
BATCH = 20_000
"""Posts taken from the caller's iterable at a time."""
WRITE_CHUNK = 5_000
"""Posts written per transaction: large enough to amortise the commit (FTS5 flushes a new
index segment at every commit, and merging small segments is most of its cost), small
enough to keep the write lock short (well under a second) for other writers."""
FTS_AUTOMERGE = 8
"""FTS5 merges index segments once this many of one level exist (SQLite's default is 4):
fewer, larger merges during ingest for a handful more segments to read per search."""
POOL_MIN = 4_000
"""Posts needing terms in one call from which worker processes are worth starting."""
NEWEST_SCAN = 20_000
"""Newest posts of a window walked for a newest-first page before sorting every match instead."""
HOUR_US = 3_600_000_000
"""``post_hours`` buckets: an hour in microseconds (``created_us // HOUR_US``, floored)."""
_MAX_VARS = 900
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_BUSY_TIMEOUT_MS = 30_000
_MAX_SLICED_BUCKETS = 10_000
"""count_by_bucket counts each bucket's slice of the time index up to this many buckets (three
weeks of 15-minute buckets is 2,016), one GROUP BY beyond."""


@contextlib.contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``conn`` (``BEGIN IMMEDIATE``: other writers wait): committed
    when the block ends, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS posts (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    platform_language TEXT,
    detected_language TEXT,
    language TEXT,               -- detected language unless 'und', else the platform's
    reach INTEGER NOT NULL,      -- author followers (0 when unknown)
    engagement INTEGER NOT NULL, -- likes + shares + replies
    rating INTEGER,              -- a review's stars (1-5), else NULL (added by schema 3)
    title TEXT,
    text TEXT NOT NULL,
    doc TEXT NOT NULL,           -- the Post as JSON, without title and text
    enriched_us INTEGER,
    sentiment TEXT,
    emotion TEXT,
    category TEXT,
    topic_id INTEGER,
    enrichment TEXT,             -- the Enrichment as JSON
    terms TEXT NOT NULL          -- JSON array of the post's terms (crisiswatch.core.text.extract_terms)
);
CREATE INDEX IF NOT EXISTS posts_created ON posts (created_us);
CREATE INDEX IF NOT EXISTS posts_source ON posts (source, created_us);
CREATE INDEX IF NOT EXISTS posts_sentiment ON posts (sentiment, created_us);
CREATE INDEX IF NOT EXISTS posts_language ON posts (language, created_us);
CREATE INDEX IF NOT EXISTS posts_unenriched ON posts (created_us) WHERE enriched_us IS NULL;
CREATE INDEX IF NOT EXISTS posts_lookup ON posts (  -- added by schema 5, see _Where.text_driven
    pk, created_us, source, language, sentiment, emotion, category, id);
CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5(
    title, text, content='posts', content_rowid='pk', tokenize='trigram', columnsize=0);
CREATE VIRTUAL TABLE IF NOT EXISTS posts_grams USING fts5(  -- CJK characters and pairs (added by schema 5)
    title, text, content='', tokenize='ascii', detail='column', columnsize=0);
CREATE TABLE IF NOT EXISTS post_watchlists (
    watchlist TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    pk INTEGER NOT NULL,
    PRIMARY KEY (watchlist, created_us, pk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS post_watchlists_pk ON post_watchlists (pk);
CREATE TABLE IF NOT EXISTS post_hours (  -- the pk range of each hour's posts (added by schema 6)
    hour INTEGER PRIMARY KEY, min_pk INTEGER NOT NULL, max_pk INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_us INTEGER NOT NULL,
    PRIMARY KEY (source, key));
CREATE TABLE IF NOT EXISTS crawls (
    seq INTEGER PRIMARY KEY, source TEXT NOT NULL, started_us INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS crawls_source ON crawls (source, started_us);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
    opened_us INTEGER NOT NULL, updated_us INTEGER NOT NULL, doc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0);  -- compare-and-set writes (added by schema 4)
CREATE INDEX IF NOT EXISTS incidents_fingerprint ON incidents (fingerprint, opened_us);
CREATE INDEX IF NOT EXISTS incidents_updated ON incidents (updated_us);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS team_labels (post_id TEXT NOT NULL, task TEXT NOT NULL, label TEXT NOT NULL,
    source TEXT NOT NULL, labelled_us INTEGER NOT NULL, PRIMARY KEY (post_id, task));
"""
_OPEN_FINGERPRINT_INDEX = ("CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_fingerprint"
                           " ON incidents (fingerprint) WHERE state != 'resolved'")
"""At most one open incident per fingerprint (schema 4). Created after the migrations, which
first settle the duplicates an older store may hold."""

_FIELD_COLUMNS = {
    "source": "p.source",
    "language": "coalesce(p.language, 'none')",
    "sentiment": "coalesce(p.sentiment, 'none')",
    "emotion": "coalesce(p.emotion, 'none')",
    "category": "coalesce(p.category, 'none')",
    "topic_id": "coalesce(CAST(p.topic_id AS TEXT), 'none')",
    "watchlist": "coalesce(w.watchlist, 'none')",
}

_ORDERS = {
    "engagement": "p.engagement DESC, p.id",
    "reach": "p.reach DESC, p.id",
    "created_at": "p.created_us, p.id",
    "-created_at": "p.created_us DESC, p.id",
}


def to_us(value: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (as_utc(value) - _EPOCH) // _MICROSECOND


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _chunks(items: Sequence[Any], size: int = _MAX_VARS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _describe(exc: sqlite3.Error) -> str:
    message = str(exc)
    if "locked" in message or "busy" in message:
        return f"{message}: another process holds the write lock; try again when it has finished"
    if "not a database" in message or "malformed" in message or "corrupt" in message:
        return f"{message}: the file is not a usable crisiswatch SQLite database (corrupt or another format)"
    if "unable to open" in message:
        return f"{message}: check that the directory exists and is writable"
    if "readonly" in message:
        return f"{message}: the file or its directory is not writable"
    return message


def _guarded(method):  # noqa: ANN001, ANN202
    """Turn sqlite3 errors into StoreError naming the database file."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self: "SqliteStore", *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path}: {_describe(exc)}") from exc
        return generator

    @functools.wraps(method)
    def wrapper(self: "SqliteStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {_describe(exc)}") from exc
    return wrapper


class _Where:
    """A PostFilter as an SQL condition over ``posts p`` with its parameters."""

    def __init__(self, flt: PostFilter | None, extra: Sequence[str] = ()):
        self.clauses: list[str] = list(extra)
        self.params: list[Any] = []
        self.text_driven = False
        self.time_sql, self.time_params = "1", []
        # a filter with an index of its own, or on columns posts_lookup lacks (each match's posts
        # row is read anyway): SQLite's own plan, not the slim lookup index (see ``source``)
        self._narrowed = flt is not None and any(
            v is not None for v in (flt.sources, flt.languages, flt.sentiments, flt.watchlists,
                                    flt.topic_ids, flt.min_followers, flt.ratings))
        if flt is not None:
            self._build(flt)

    @property
    def sql(self) -> str:
        return " AND ".join(f"({c})" for c in self.clauses) or "1"

    def _in(self, column: str, values: tuple[Any, ...] | None) -> None:
        if values is None:
            return
        if not values:
            self.clauses.append("0")
            return
        self.clauses.append(f"{column} IN ({_marks(len(values))})")
        self.params.extend(values)

    def _build(self, f: PostFilter) -> None:
        since = to_us(f.since) if f.since is not None else None
        until = to_us(f.until) if f.until is not None else None
        if since is not None:
            self.clauses.append("p.created_us >= ?")
            self.params.append(since)
        if until is not None:
            self.clauses.append("p.created_us < ?")
            self.params.append(until)
        self.time_sql = " AND ".join(self.clauses[len(self.clauses) - (since is not None) - (until is not None):]) or "1"
        self.time_params = list(self.params)
        self._in("p.source", f.sources)
        self._in("p.language", f.languages)
        self._in("p.sentiment", f.sentiments)
        self._in("p.emotion", f.emotions)
        self._in("p.category", f.categories)
        self._in("p.topic_id", f.topic_ids)
        if f.min_followers is not None:
            self.clauses.append("p.reach >= ?")
            self.params.append(f.min_followers)
        self._in("p.rating", f.ratings)
        if f.watchlists is not None:
            if not f.watchlists:
                self.clauses.append("0")
            else:
                # The window bounds inside the subquery keep its list of posts small.
                sub = [f"watchlist IN ({_marks(len(f.watchlists))})"]
                self.params.extend(f.watchlists)
                if since is not None:
                    sub.append("created_us >= ?")
                    self.params.append(since)
                if until is not None:
                    sub.append("created_us < ?")
                    self.params.append(until)
                self.clauses.append(f"p.pk IN (SELECT pk FROM post_watchlists WHERE {' AND '.join(sub)})")
        if f.text is not None:
            self._text(f.text, _window_rowids(since, until))

    def _text(self, query: str, window: _Rowids) -> None:
        node = parse_query(query)
        if node is not None:
            sql, params = _text_sql(node, window)
            self.clauses.append(sql)
            self.params.extend(params)
            self.text_driven = _pk_set(node) is not None and not self._narrowed

    @property
    def source(self) -> str:
        """``posts p``, read through ``posts_lookup`` when the text drives the query.

        With only a time window beside an indexed text query, SQLite starts from the text's
        matches (right: they are usually far fewer than the window's posts) and looks each up
        in the posts table, whose rows hold the whole post: at 32,000 matches that lookup was
        most of the explorer's time. ``posts_lookup`` holds, per pk, the columns the explorer
        filters and sorts on, a few dozen bytes instead of a post, so the same lookups read a
        fraction of the pages. SQLite ranks a rowid lookup above any index, hence INDEXED BY.
        With a source, language, sentiment or watchlist filter SQLite's own choice (that
        filter's index) is kept, and with a topic, reach or rating filter too (posts_lookup
        lacks those columns, so each match's posts row is read whatever the plan)."""
        return "posts p INDEXED BY posts_lookup" if self.text_driven else "posts p"


# ---- text queries: the syntax tree of crisiswatch.core.store.query as SQL ------------------
_LABEL_COLUMNS = {"source": "p.source", "language": "p.language", "sentiment": "p.sentiment",
                  "emotion": "p.emotion", "category": "p.category", "topic": "p.topic_id"}
_INDEXES = {
    "posts_fts": lambda variant: len(variant) >= 3,  # trigrams: any text of three characters or more
    "posts_grams": is_gram_term,                     # CJK characters and pairs: 召回, 天
}
"""The full-text indexes and the query terms each answers exactly (a term variant goes to the
first that accepts it; one or two non-CJK characters, such as "EV", to neither)."""


def _match_sql(table: str) -> str:
    return f"p.pk IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)"


_Rowids = tuple[str, list[Any]] | None
"""`` AND rowid BETWEEN …`` for a full-text MATCH, with its parameters: the pks that posts of
the query's time window can have; None without a window."""


def _window_rowids(since: int | None, until: int | None) -> _Rowids:
    """The pk range of the window's hours in ``post_hours``. Both ends are NULL when no post
    was written for those hours, and the MATCH then finds nothing, as the window holds nothing."""
    if since is None and until is None:
        return None
    hours, params = [], []
    if since is not None:
        hours.append("hour >= ?")
        params.append(since // HOUR_US)
    if until is not None:
        hours.append("hour <= ?")
        params.append((until - 1) // HOUR_US)  # until is exclusive
    where = " AND ".join(hours)
    return (f" AND rowid BETWEEN (SELECT min(min_pk) FROM post_hours WHERE {where})"
            f" AND (SELECT max(max_pk) FROM post_hours WHERE {where})", params * 2)


def _match(table: str, expr: str, window: _Rowids) -> tuple[str, list[Any]]:
    """The pks whose row of ``table`` matches ``expr``, within the window's pk range."""
    bound, params = window or ("", [])
    return f"SELECT rowid FROM {table} WHERE {table} MATCH ?{bound}", [expr, *params]


def _index_of(variant: str) -> str | None:
    return next((table for table, accepts in _INDEXES.items() if accepts(variant)), None)


def _fts(node: Node, table: str) -> str | None:
    """The node as one FTS5 expression over ``table`` when that index alone can answer it
    (terms it accepts, AND/OR of such, AND NOT with a positive part), else None. One MATCH
    for a whole subtree keeps a query like ``recall OR 召回回收`` a single index lookup
    instead of one subquery per term."""
    if isinstance(node, Term):
        variants = script_variants(node.text)
        if any(_index_of(v) != table for v in variants):
            return None
        expr = " OR ".join(_fts_phrase(v) for v in variants)
        return f"({node.field} : ({expr}))" if node.field else f"({expr})"
    if isinstance(node, Or):
        parts = [_fts(item, table) for item in node.items]
        return None if None in parts else "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]
    if isinstance(node, And):
        positive = [_fts(item, table) for item in node.items if not isinstance(item, Not)]
        negative = [_fts(item.item, table) for item in node.items if isinstance(item, Not)]
        if not positive or None in positive or None in negative:
            return None
        return "(" + " AND ".join(positive) + ")" + "".join(f" NOT {n}" for n in negative)  # type: ignore[arg-type]
    return None


def _one_index(node: Node) -> tuple[str, str] | None:
    """(table, FTS5 expression) when one index answers the whole node."""
    for table in _INDEXES:
        expr = _fts(node, table)
        if expr is not None:
            return table, expr
    return None


def _contains_sql(term: Term) -> tuple[str, list[Any]]:
    """Substring test without an index, for short terms no index answers ("EV", "5G")."""
    columns = [f"p.{term.field}"] if term.field else ["p.text", "p.title"]
    ors, params = [], []
    for variant in script_variants(term.text):
        if variant.casefold() == variant.upper():  # no letter case (CJK, digits)
            fold, needle = "", variant
        elif variant.isascii():
            fold, needle = "lower", variant.lower()
        else:
            fold, needle = "cw_casefold", variant.casefold()
        for column in columns:
            ors.append(f"instr({fold}(coalesce({column}, '')), ?) > 0")
            params.append(needle)
    return " OR ".join(ors), params


def _pk_set(node: Node, window: _Rowids = None) -> tuple[str, list[Any]] | None:
    """The posts the node matches as one SELECT of their pks answered by the full-text indexes
    alone (MATCHes joined by UNION, INTERSECT and EXCEPT), or None when a part needs the rows
    (labels, short non-CJK terms, a NOT with nothing positive beside it). A whole query as
    one set lets SQLite start from the matches and look up only those posts. With a
    ``window`` (``_window_rowids``) each MATCH keeps to the pks the window's posts can have:
    the set then differs from the plain one only by posts outside the window, which the
    caller's time condition leaves out anyway."""
    whole = _one_index(node)
    if whole is not None:
        return _match(whole[0], whole[1], window)
    if isinstance(node, Term):
        tables: dict[str, list[str]] = {}
        for variant in script_variants(node.text):
            table = _index_of(variant)
            if table is None:
                return None
            tables.setdefault(table, []).append(_fts_phrase(variant))
        parts = [_match(t, f"({node.field} : ({' OR '.join(v)}))" if node.field else f"({' OR '.join(v)})", window)
                 for t, v in tables.items()]
        return " UNION ".join(sql for sql, _ in parts), [p for _, ps in parts for p in ps]
    if isinstance(node, Or):
        parts = [_pk_set(item, window) for item in node.items]
        if None in parts:
            return None
        return (" UNION ".join(f"SELECT * FROM ({sql})" for sql, _ in parts),  # type: ignore[misc]
                [p for _, ps in parts for p in ps])  # type: ignore[misc]
    if isinstance(node, And):
        positive = [_pk_set(item, window) for item in node.items if not isinstance(item, Not)]
        negative = [_pk_set(item.item, window) for item in node.items if isinstance(item, Not)]
        if not positive or None in positive or None in negative:
            return None
        sql = " INTERSECT ".join(f"SELECT * FROM ({s})" for s, _ in positive)  # type: ignore[misc]
        sql += "".join(f" EXCEPT SELECT * FROM ({s})" for s, _ in negative)  # type: ignore[misc]
        return sql, [p for _, ps in [*positive, *negative] for p in ps]  # type: ignore[misc]
    return None


def _text_sql(node: Node, window: _Rowids = None) -> tuple[str, list[Any]]:
    """An SQL condition over ``posts p`` selecting the posts the query tree matches among the
    posts of the time window whose pk range ``window`` gives (``_window_rowids``; None: all)."""
    found = _pk_set(node, window)
    if found is not None:
        return f"p.pk IN ({found[0]})", found[1]
    if isinstance(node, Term):
        return _contains_sql(node)
    if isinstance(node, Label):
        if node.field == "watchlist":
            return "p.pk IN (SELECT pk FROM post_watchlists WHERE watchlist = ?)", [node.value]
        return f"{_LABEL_COLUMNS[node.field]} IS ?", [node.value]  # IS: a missing label is not NULL under NOT
    if isinstance(node, Not):
        sql, params = _text_sql(node.item, window)
        return f"NOT ({sql})", params
    joiner = " AND " if isinstance(node, And) else " OR "
    parts: list[str] = []
    params: list[Any] = []
    for item in node.items:
        sql, item_params = _text_sql(item, window)
        parts.append(sql)
        params.extend(item_params)
    return joiner.join(f"({p})" for p in parts), params


def terms_json(items: list[tuple[str, str, str | None]]) -> dict[str, str]:
    """Post id -> the post's terms as a JSON array (runs in the term worker processes too)."""
    return {pid: json.dumps(extract_terms(text, title), ensure_ascii=False) for pid, text, title in items}


def _warm_up_terms() -> None:
    extract_terms("预热 warm up")  # loads the jieba dictionary once per worker


def _default_term_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(4, cpus - 1) if cpus > 1 else 0


def _words_changed(old: tuple[int, str | None, str] | None, post: Post) -> bool:
    return old is None or old[1] != post.title or old[2] != post.text


def _casefold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def _write_grams(conn: sqlite3.Connection, deletes: list[tuple[int, str, str] | None],
                 inserts: list[tuple[int, str, str] | None]) -> None:
    """Keep ``posts_grams`` in step: a post without CJK text has no row there, and a contentless
    table deletes a row by repeating its values, so both lists come from ``gram_row``."""
    conn.executemany("INSERT INTO posts_grams (posts_grams, rowid, title, text) VALUES ('delete', ?, ?, ?)",
                     [row for row in deletes if row is not None])
    conn.executemany("INSERT INTO posts_grams (rowid, title, text) VALUES (?, ?, ?)",
                     [row for row in inserts if row is not None])


class SqliteStore(Store):
    """The Store interface over one SQLite file (created, with its directory, on first use)."""

    def __init__(self, path: str | Path, busy_timeout_s: float = _BUSY_TIMEOUT_MS / 1000,
                 term_workers: int | None = None):
        """``term_workers``: processes that extract terms during large writes (None = CPUs - 1,
        at most 4; 0 = extract in this process)."""
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.term_workers = _default_term_workers() if term_workers is None else term_workers
        self._pool: ProcessPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._ready = False

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # ---- connections -----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"SQLite store {self.path}: cannot create directory {self.path.parent}: "
                             f"{exc.strerror or exc}") from exc
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=self.busy_timeout_s)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL: a crash loses no committed data
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache
            conn.execute("PRAGMA mmap_size = 268435456")
            conn.execute("PRAGMA wal_autocheckpoint = 16384")  # checkpoint every 64 MiB, not every 4 MiB
            conn.create_function("cw_casefold", 1, _casefold, deterministic=True)
            with self._lock:
                if not self._ready:
                    self._create_schema(conn)
                    self._ready = True
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {_describe(exc)}") from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """``journal_mode = WAL``, waiting like any write for a process that creates the file too.

        SQLite answers this pragma with SQLITE_BUSY at once, without its busy handler, while
        another connection is switching the same new file; so it is retried until the busy
        timeout runs out.
        """
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        if mode != "wal":
            raise StoreError(f"SQLite store {self.path}: cannot switch to WAL journal mode")

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        self._switch_to_wal(conn)
        try:
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA +
                               f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');"
                               f"INSERT INTO posts_fts (posts_fts, rank) VALUES ('automerge', {FTS_AUTOMERGE});"
                               f"INSERT INTO posts_grams (posts_grams, rank) VALUES ('automerge', {FTS_AUTOMERGE});"
                               "COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"SQLite store {self.path}: written by a newer crisiswatch "
                             f"(schema {version} > {SCHEMA_VERSION}); upgrade crisiswatch")
        if version == 2:
            self._migrate_to_3(conn)
            version = 3
        if version == 3:
            self._migrate_to_4(conn)
            version = 4
        if version == 4:
            self._migrate_to_5(conn)
            version = 5
        if version == 5:
            self._migrate_to_6(conn)
        elif version < SCHEMA_VERSION:
            raise StoreError(f"SQLite store {self.path}: created by a development build of crisiswatch "
                             f"(schema {version}); move it away and ingest its posts again")
        conn.execute(_OPEN_FINGERPRINT_INDEX)

    @staticmethod
    def _migrate_to_3(conn: sqlite3.Connection) -> None:
        """Schema 3 adds ``posts.rating`` (review stars, a rule filter). Stores written before
        keep their posts: the column is added and filled from each post's JSON, where App
        Store reviews kept with ``keep_raw`` still carry ``im:rating``."""
        with _immediate(conn):
            columns = {row[1] for row in conn.execute("PRAGMA table_info(posts)")}
            if "rating" not in columns:  # another process may have migrated while we waited
                conn.execute("ALTER TABLE posts ADD COLUMN rating INTEGER")
                conn.execute(
                    "UPDATE posts SET rating = CAST(coalesce(json_extract(doc, '$.rating'),"
                    " json_extract(doc, '$.raw.\"im:rating\".label')) AS INTEGER)"
                    " WHERE coalesce(json_extract(doc, '$.rating'), json_extract(doc, '$.raw.\"im:rating\".label'))"
                    " IS NOT NULL")
                conn.execute("UPDATE posts SET rating = NULL WHERE rating NOT BETWEEN 1 AND 5")
            conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")

    @staticmethod
    def _migrate_to_4(conn: sqlite3.Connection) -> None:
        """Schema 4 adds ``incidents.version`` (every incident write is a compare-and-set) and
        the one-open-incident-per-fingerprint index. A store written before may hold two open
        incidents of one fingerprint (the race the index prevents): the newest stays open, the
        others are resolved with a timeline entry naming the one kept, so nothing is deleted."""
        with _immediate(conn):
            columns = {row[1] for row in conn.execute("PRAGMA table_info(incidents)")}
            if "version" not in columns:
                conn.execute("ALTER TABLE incidents ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
            doubled = [row[0] for row in conn.execute(
                "SELECT fingerprint FROM incidents WHERE state != 'resolved' GROUP BY fingerprint HAVING count(*) > 1")]
            for fingerprint in doubled:
                rows = conn.execute("SELECT id, doc FROM incidents WHERE fingerprint = ? AND state != 'resolved'"
                                    " ORDER BY opened_us DESC, id DESC", (fingerprint,)).fetchall()
                kept = rows[0][0]
                for incident_id, doc in rows[1:]:
                    incident = Incident.model_validate_json(doc)
                    now = datetime.now(timezone.utc)
                    incident.state, incident.resolved_at, incident.updated_at = IncidentState.resolved, now, now
                    incident.events.append(IncidentEvent(at=now, kind="resolved", actor="system", data={"merged_into": kept},
                                                         message=f"duplicate of incident {kept} (opened by a race "
                                                                 "before schema 4); follow that one"))
                    conn.execute("UPDATE incidents SET state = 'resolved', updated_us = ?, doc = ?,"
                                 " version = version + 1 WHERE id = ?",
                                 (to_us(now), incident.model_dump_json(), incident_id))
            conn.execute(_OPEN_FINGERPRINT_INDEX)
            conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")

    @staticmethod
    def _migrate_to_5(conn: sqlite3.Connection) -> None:
        """Schema 5 adds ``posts_grams``, the index of one- and two-character CJK terms, built
        here from every stored post (about a minute per million posts) so that a store written
        before answers 召回 from the index like a new one."""
        with _immediate(conn):
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            if version == "4":  # another process may have migrated while we waited
                conn.execute("INSERT INTO posts_grams (posts_grams) VALUES ('delete-all')")
                last = 0
                while True:
                    rows = conn.execute("SELECT pk, title, text FROM posts WHERE pk > ? ORDER BY pk LIMIT 20000",
                                        (last,)).fetchall()
                    if not rows:
                        break
                    last = rows[-1][0]
                    conn.executemany("INSERT INTO posts_grams (rowid, title, text) VALUES (?, ?, ?)",
                                     [row for row in (gram_row(*r) for r in rows) if row is not None])
                conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")

    @staticmethod
    def _migrate_to_6(conn: sqlite3.Connection) -> None:
        """Schema 6 adds ``post_hours`` (each hour's pk range, see the module's docstring), filled
        here from every stored post (about a second per million posts)."""
        with _immediate(conn):
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            if version == "5":  # another process may have migrated while we waited
                conn.execute("DELETE FROM post_hours")
                conn.execute(f"INSERT INTO post_hours (hour, min_pk, max_pk) SELECT (created_us - ((created_us %"
                             f" {HOUR_US}) + {HOUR_US}) % {HOUR_US}) / {HOUR_US} AS hour, min(pk), max(pk)"
                             " FROM posts GROUP BY hour")  # the hour floored, as Python's // does
                conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")

    def _read(self) -> sqlite3.Connection:
        return self._connect()

    def _write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """This thread's connection in one write transaction."""
        return _immediate(self._connect())

    @_guarded
    def setup(self) -> None:
        self._connect()

    def close(self) -> None:
        self._shutdown_pool()
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    # ---- posts ---------------------------------------------------------------------
    @_guarded
    def upsert_posts(self, posts: Iterable[Post]) -> WriteResult:
        result = WriteResult()
        batch: list[Post] = []
        for item in posts:
            if not isinstance(item, Post):
                try:
                    item = Post.model_validate(item)
                except ValueError as exc:
                    ident = item.get("id", "?") if isinstance(item, dict) else "?"
                    result.failed.append(ItemError(id=str(ident), reason=str(exc).replace("\n", " ")))
                    continue
            batch.append(item)
            if len(batch) >= BATCH:
                result += self._upsert_many(batch)
                batch = []
        if batch:
            result += self._upsert_many(batch)
        return result

    def _upsert_many(self, batch: list[Post]) -> WriteResult:
        """Write in chunks of WRITE_CHUNK posts while worker processes cut the terms of the
        chunks still to come: term extraction (jieba) costs about as much as the writing."""
        unique = list({post.id: post for post in batch}.values())
        before = self._existing(self._connect(), [post.id for post in unique])
        chunks = [unique[i:i + WRITE_CHUNK] for i in range(0, len(unique), WRITE_CHUNK)]
        stale = [[(p.id, p.text, p.title) for p in chunk if _words_changed(before.get(p.id), p)] for chunk in chunks]
        result = WriteResult()
        for chunk, terms in zip(chunks, self._terms_in_order(stale)):
            result += self._write_chunk(chunk, terms)
        return result

    def _terms_in_order(self, groups: list[list[tuple[str, str, str | None]]]) -> Iterator[dict[str, str]]:
        pool = self._term_pool() if sum(map(len, groups)) >= POOL_MIN else None
        if pool is None:
            for group in groups:
                yield terms_json(group)
            return
        futures = [pool.submit(terms_json, group) for group in groups]
        for group, future in zip(groups, futures):
            try:
                yield future.result()
            except (BrokenProcessPool, OSError):  # a worker died: carry on without the pool
                self._shutdown_pool()
                yield terms_json(group)

    def _term_pool(self) -> ProcessPoolExecutor | None:
        """Worker processes, forked, only from a single-threaded process on Linux: forking is
        safe there and needs no re-import of the caller's main module (which spawn does, and
        which breaks scripts without a ``__main__`` guard). Elsewhere terms are cut inline."""
        with self._lock:
            if (self._pool is None and self.term_workers > 0 and sys.platform.startswith("linux")
                    and threading.active_count() == 1):
                self._pool = ProcessPoolExecutor(self.term_workers, mp_context=multiprocessing.get_context("fork"),
                                                 initializer=_warm_up_terms)
            return self._pool

    def _shutdown_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _existing(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, tuple[int, str | None, str]]:
        found: dict[str, tuple[int, str | None, str]] = {}
        for part in _chunks(ids):
            for pid, pk, title, text in conn.execute(
                    f"SELECT id, pk, title, text FROM posts WHERE id IN ({_marks(len(part))})", part):
                found[pid] = (pk, title, text)
        return found

    def _write_chunk(self, unique: list[Post], terms: dict[str, str]) -> WriteResult:
        ids = [post.id for post in unique]
        with self._write() as conn:
            existing = self._existing(conn, ids)  # again, under the lock: another writer may have been first
            next_pk = conn.execute("SELECT coalesce(max(pk), 0) + 1 FROM posts").fetchone()[0]
            inserts, updates, rewrites, fts_deletes, fts_inserts, watch_rows = [], [], [], [], [], []
            gram_deletes: list[tuple[int, str, str] | None] = []
            gram_inserts: list[tuple[int, str, str] | None] = []
            replaced: list[int] = []
            hours: dict[int, list[int]] = {}
            for post in unique:
                created = to_us(post.created_at)
                doc = post.model_dump_json(exclude={"title", "text"}, exclude_none=True)
                old = existing.get(post.id)
                if _words_changed(old, post) and post.id not in terms:
                    terms.update(terms_json([(post.id, post.text, post.title)]))
                if old is None:
                    pk = next_pk
                    next_pk += 1
                    inserts.append((pk, post.id, post.source, created, post.language, post.language, post.reach,
                                    post.engagement.total, post.rating, post.title, post.text, doc, terms[post.id]))
                    fts_inserts.append((pk, post.title, post.text))
                    gram_inserts.append(gram_row(pk, post.title, post.text))
                else:
                    pk = old[0]
                    replaced.append(pk)
                    updates.append((post.source, created, post.language, post.language, post.reach,
                                    post.engagement.total, post.rating, doc, pk))
                    if _words_changed(old, post):
                        rewrites.append((post.title, post.text, terms[post.id], pk))
                        fts_deletes.append((pk, old[1], old[2]))
                        fts_inserts.append((pk, post.title, post.text))
                        gram_deletes.append(gram_row(pk, old[1], old[2]))
                        gram_inserts.append(gram_row(pk, post.title, post.text))
                hours.setdefault(created // HOUR_US, []).append(pk)
                for name in dict.fromkeys(post.watchlists):
                    watch_rows.append((name, created, pk))
            for part in _chunks(replaced):
                conn.execute(f"DELETE FROM post_watchlists WHERE pk IN ({_marks(len(part))})", part)
            conn.executemany(
                "INSERT INTO posts (pk, id, source, created_us, platform_language, language, reach, engagement,"
                " rating, title, text, doc, terms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", inserts)
            conn.executemany(
                "UPDATE posts SET source = ?, created_us = ?, platform_language = ?,"
                " language = coalesce(nullif(detected_language, 'und'), ?), reach = ?, engagement = ?, rating = ?,"
                " doc = ? WHERE pk = ?", updates)
            conn.executemany("UPDATE posts SET title = ?, text = ?, terms = ? WHERE pk = ?", rewrites)
            # The full-text index is written here rather than by triggers: a trigger makes FTS5
            # flush its buffer for every row, which is several times slower.
            conn.executemany("INSERT INTO posts_fts (posts_fts, rowid, title, text) VALUES ('delete', ?, ?, ?)",
                             fts_deletes)
            conn.executemany("INSERT INTO posts_fts (rowid, title, text) VALUES (?, ?, ?)", fts_inserts)
            _write_grams(conn, gram_deletes, gram_inserts)
            conn.executemany("INSERT OR IGNORE INTO post_watchlists (watchlist, created_us, pk) VALUES (?,?,?)",
                             watch_rows)
            conn.executemany("INSERT INTO post_hours (hour, min_pk, max_pk) VALUES (?, ?, ?) ON CONFLICT (hour) DO"
                             " UPDATE SET min_pk = min(min_pk, excluded.min_pk), max_pk = max(max_pk, excluded.max_pk)",
                             [(hour, min(pks), max(pks)) for hour, pks in hours.items()])
        return WriteResult(written=len(unique))

    @staticmethod
    def _post(doc: str, title: str | None, text: str) -> Post:
        data = json.loads(doc)
        data["title"] = title
        data["text"] = text
        return Post.model_validate(data)

    @_guarded
    def get_posts(self, ids: Iterable[str]) -> list[Post]:
        wanted = list(dict.fromkeys(ids))
        conn = self._read()
        found: dict[str, Post] = {}
        for part in _chunks(wanted):
            for pid, doc, title, text in conn.execute(
                    f"SELECT id, doc, title, text FROM posts WHERE id IN ({_marks(len(part))})", part):
                found[pid] = self._post(doc, title, text)
        return [found[i] for i in wanted if i in found]

    @_guarded
    def update_enrichments(self, enrichments: Iterable[Enrichment]) -> WriteResult:
        result = WriteResult()
        batch: list[Enrichment] = []
        for item in enrichments:
            batch.append(item)
            if len(batch) >= BATCH:
                result += self._enrich_batch(batch)
                batch = []
        if batch:
            result += self._enrich_batch(batch)
        return result

    def _enrich_batch(self, batch: list[Enrichment]) -> WriteResult:
        unique = list({e.post_id: e for e in batch}.values())
        with self._write() as conn:
            known = set()
            ids = [e.post_id for e in unique]
            for part in _chunks(ids):
                known.update(r[0] for r in conn.execute(
                    f"SELECT id FROM posts WHERE id IN ({_marks(len(part))})", part))
            rows = [(e.model_dump_json(), to_us(e.enriched_at),
                     e.sentiment.value if e.sentiment is not None else None, e.emotion, e.category, e.topic_id,
                     e.language, e.language, e.post_id) for e in unique if e.post_id in known]
            conn.executemany(
                "UPDATE posts SET enrichment = ?, enriched_us = ?, sentiment = ?, emotion = ?, category = ?,"
                " topic_id = ?, detected_language = ?, language = coalesce(nullif(?, 'und'), platform_language)"
                " WHERE id = ?", rows)
        failed = [ItemError(id=e.post_id, reason="no post with this id in the store")
                  for e in unique if e.post_id not in known]
        return WriteResult(written=len(rows), failed=failed)

    @_guarded
    def get_enrichments(self, post_ids: Iterable[str]) -> dict[str, Enrichment]:
        wanted = list(dict.fromkeys(post_ids))
        conn = self._read()
        found: dict[str, Enrichment] = {}
        for part in _chunks(wanted):
            for pid, doc in conn.execute(f"SELECT id, enrichment FROM posts WHERE id IN ({_marks(len(part))})"
                                         " AND enrichment IS NOT NULL", part):
                found[pid] = Enrichment.model_validate_json(doc)
        return found

    @_guarded
    def unenriched_batches(self, batch_size: int = 256, filter: PostFilter | None = None) -> Iterator[list[Post]]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        where = _Where(filter, extra=["p.enriched_us IS NULL", "(p.created_us, p.pk) > (?, ?)"])
        sql = (f"SELECT p.created_us, p.pk, p.doc, p.title, p.text FROM posts p WHERE {where.sql}"
               " ORDER BY p.created_us, p.pk LIMIT ?")
        last: tuple[int, int] = (-(2 ** 62), -1)
        while True:
            rows = self._read().execute(sql, [*last, *where.params, batch_size]).fetchall()
            if not rows:
                return
            last = (rows[-1][0], rows[-1][1])
            yield [self._post(doc, title, text) for _, _, doc, title, text in rows]
            if len(rows) < batch_size:
                return

    @_guarded
    def clear_enrichments(self, filter: PostFilter) -> int:
        where = _Where(filter, extra=["p.enriched_us IS NOT NULL"])
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE posts SET enrichment = NULL, enriched_us = NULL, sentiment = NULL, emotion = NULL,"
                " category = NULL, topic_id = NULL, detected_language = NULL, language = platform_language"
                f" WHERE pk IN (SELECT p.pk FROM posts p WHERE {where.sql})", where.params)
            return cursor.rowcount

    @_guarded
    def count_posts(self, filter: PostFilter | None = None) -> int:
        where = _Where(filter)
        return self._read().execute(f"SELECT count(*) FROM {where.source} WHERE {where.sql}",
                                    where.params).fetchone()[0]

    @_guarded
    def count_by_bucket(self, filter: PostFilter, start: datetime, end: datetime, size: timedelta) -> list[Bucket]:
        if size <= timedelta(0):
            raise ValueError("bucket size must be positive")
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            return []
        n = -(-(end - start) // size)
        window = filter.narrow(since=max(start, filter.since) if filter.since else start,
                               until=min(end, filter.until) if filter.until else end)
        counts = [0] * n
        if window.since < window.until:
            where = _Where(window)
            size_us = size // _MICROSECOND
            if window.watchlists is not None or window.text is not None or n > _MAX_SLICED_BUCKETS:
                # rows found from a watchlist's list of posts or the text (each match's time from
                # the slim lookup index when the text drives the query): group those. Grouped by
                # SQLite, not counted in Python: 18% less time for 赔's 89,000 matches in a week.
                sql = (f"SELECT (p.created_us - ?) / ? AS bucket, count(*) FROM {where.source} WHERE {where.sql}"
                       " GROUP BY bucket")
                rows = self._read().execute(sql, [to_us(start), size_us, *where.params])
            else:
                # One count per bucket over its own time range: each is a slice of a time-ordered
                # index, where GROUP BY over a whole week (a million posts) sorted every row first.
                # (Not with a list of posts to test, which each bucket's count might walk again, nor
                # for more buckets than _MAX_SLICED_BUCKETS: an index seek each, mostly of empty slices.)
                sql = ("WITH RECURSIVE b(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM b WHERE k + 1 < ?)"
                       f" SELECT k, (SELECT count(*) FROM posts p WHERE p.created_us >= ? + k * ?"
                       f" AND p.created_us < ? + (k + 1) * ? AND {where.sql}) FROM b")
                rows = self._read().execute(sql, [n, to_us(start), size_us, to_us(start), size_us, *where.params])
            for index, count in rows:
                if 0 <= index < n:
                    counts[index] = count
        return [Bucket(start=start + k * size, count=counts[k]) for k in range(n)]

    @_guarded
    def first_post_time(self, watchlist: str | None, until: datetime) -> datetime | None:
        if watchlist is None:
            return super().first_post_time(watchlist, until)
        # The (watchlist, created_us, pk) primary key answers this in one index seek.
        (first,) = self._read().execute("SELECT min(created_us) FROM post_watchlists WHERE watchlist = ?"
                                        " AND created_us < ?", [watchlist, to_us(as_utc(until))]).fetchone()
        return from_us(first) if first is not None else None

    @_guarded
    def count_by_bucket_per_watchlist(self, watchlists: Sequence[str], start: datetime, end: datetime,
                                      size: timedelta) -> dict[str, list[Bucket]]:
        if size <= timedelta(0):
            raise ValueError("bucket size must be positive")
        start, end = as_utc(start), as_utc(end)
        names = list(dict.fromkeys(watchlists))
        if end <= start or not names:
            return {w: [] for w in names}
        n = -(-(end - start) // size)
        counts = {w: [0] * n for w in names}
        # One grouped query over the covering primary key instead of one query per watchlist.
        for name, index, count in self._read().execute(
                f"SELECT watchlist, (created_us - ?) / ? AS bucket, count(*) FROM post_watchlists"
                f" WHERE watchlist IN ({_marks(len(names))}) AND created_us >= ? AND created_us < ?"
                " GROUP BY watchlist, bucket", [to_us(start), size // _MICROSECOND, *names, to_us(start), to_us(end)]):
            if 0 <= index < n:
                counts[name][index] = count
        return {w: [Bucket(start=start + k * size, count=c[k]) for k in range(n)] for w, c in counts.items()}

    @_guarded
    def count_by_field(self, field: str, filter: PostFilter | None = None, limit: int = 50) -> list[TermCount]:
        column = _FIELD_COLUMNS.get(field)
        if column is None:
            raise ValueError(f"cannot count by '{field}': use one of {', '.join(_FIELD_COLUMNS)}")
        where = _Where(filter)
        join = "LEFT JOIN post_watchlists w ON w.pk = p.pk" if field == "watchlist" else ""
        rows = self._read().execute(
            f"SELECT {column} AS value, count(*) AS n FROM posts p {join} WHERE {where.sql}"
            " GROUP BY value ORDER BY n DESC, value LIMIT ?", [*where.params, limit])
        return [TermCount(term=str(value), count=n) for value, n in rows]

    @_guarded
    def top_terms(self, filter: PostFilter, limit: int = 20) -> list[TermCount]:
        # Counted here rather than with GROUP BY over json_each: a Counter over the posts'
        # term lists is several times faster than SQLite's temporary B-tree of strings.
        where = _Where(filter)
        counts: Counter[str] = Counter()
        for (terms,) in self._read().execute(f"SELECT p.terms FROM posts p WHERE {where.sql}", where.params):
            counts.update(json.loads(terms))
        best = heapq.nsmallest(limit, counts.items(), key=lambda item: (-item[1], item[0]))
        return [TermCount(term=term, count=n) for term, n in best]

    @_guarded
    def top_posts(self, filter: PostFilter, order: PostOrder = "engagement", limit: int = 10) -> list[Post]:
        if order not in _ORDERS:
            raise ValueError(f"unknown order '{order}': use one of {', '.join(_ORDERS)}")
        where = _Where(filter)
        if where.text_driven and order == "-created_at" and filter.until is not None:
            found = self._newest_first(filter, where, limit)
            if found is not None:
                return found
        if where.text_driven and order in ("created_at", "-created_at"):
            # The page's pks first, sorted from the slim lookup index, then only those posts read.
            rows = self._read().execute(
                f"SELECT p.doc, p.title, p.text FROM posts p WHERE p.pk IN (SELECT p.pk FROM {where.source}"
                f" WHERE {where.sql} ORDER BY {_ORDERS[order]} LIMIT ?) ORDER BY {_ORDERS[order]}",
                [*where.params, limit])
        else:
            rows = self._read().execute(
                f"SELECT p.doc, p.title, p.text FROM posts p WHERE {where.sql} ORDER BY {_ORDERS[order]} LIMIT ?",
                [*where.params, limit])
        return [self._post(*row) for row in rows]

    def _newest_first(self, filter: PostFilter, where: _Where, limit: int) -> list[Post] | None:
        """The newest matches, found by walking the newest ``NEWEST_SCAN`` posts of the window
        (time index, backwards) and testing each against the text's matches: a page of a
        frequent term is among the newest few hundred posts, where sorting every match (90,000
        for 赔 in a week of a million) costs more than the page. None when the walk does not fill
        the page (a rare term), so the caller sorts the matches instead. Only posts newer than
        the walk's oldest are taken, so posts sharing a time are never split by the walk; the
        text is read for that part of the window only (its pk range, ``post_hours``), not for
        the whole window's matches."""
        conn = self._read()
        edge = conn.execute(f"SELECT created_us FROM (SELECT p.created_us FROM posts p INDEXED BY posts_created"
                            f" WHERE {where.time_sql} ORDER BY p.created_us DESC LIMIT ?) ORDER BY created_us LIMIT 1",
                            [*where.time_params, NEWEST_SCAN]).fetchone()
        if edge is None:
            return []
        walk = _Where(filter.narrow(since=from_us(edge[0] + 1)))
        rows = conn.execute(
            f"SELECT p.created_us, p.doc, p.title, p.text FROM posts p INDEXED BY posts_created"
            f" WHERE {walk.sql} ORDER BY p.created_us DESC, p.id LIMIT ?", [*walk.params, limit]).fetchall()
        if len(rows) < limit:
            return None
        return [self._post(doc, title, text) for _, doc, title, text in rows]

    @_guarded
    def iter_posts(self, filter: PostFilter | None = None, batch_size: int = 1000) -> Iterator[Post]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        where = _Where(filter, extra=["(p.created_us, p.pk) > (?, ?)"])
        sql = (f"SELECT p.created_us, p.pk, p.doc, p.title, p.text FROM posts p WHERE {where.sql}"
               " ORDER BY p.created_us, p.pk LIMIT ?")
        last: tuple[int, int] = (-(2 ** 62), -1)
        while True:
            rows = self._read().execute(sql, [*last, *where.params, batch_size]).fetchall()
            for _, _, doc, title, text in rows:
                yield self._post(doc, title, text)
            if len(rows) < batch_size:
                return
            last = (rows[-1][0], rows[-1][1])

    @_guarded
    def delete_posts(self, filter: PostFilter) -> int:
        where = _Where(filter)
        with self._write() as conn:
            rows = conn.execute(f"SELECT p.pk, p.title, p.text FROM posts p WHERE {where.sql}", where.params).fetchall()
            conn.executemany("INSERT INTO posts_fts (posts_fts, rowid, title, text) VALUES ('delete', ?, ?, ?)", rows)
            _write_grams(conn, [gram_row(*r) for r in rows], [])
            pks = [r[0] for r in rows]
            for part in _chunks(pks):
                marks = _marks(len(part))
                conn.execute(f"DELETE FROM post_watchlists WHERE pk IN ({marks})", part)
                conn.execute(f"DELETE FROM posts WHERE pk IN ({marks})", part)
        return len(pks)

    # ---- crawl state ---------------------------------------------------------------
    @_guarded
    def get_cursor(self, source: str, key: str = "") -> str | None:
        row = self._read().execute("SELECT value FROM cursors WHERE source = ? AND key = ?", (source, key)).fetchone()
        return row[0] if row else None

    @_guarded
    def set_cursor(self, source: str, value: str, key: str = "") -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO cursors (source, key, value, updated_us) VALUES (?,?,?,?)"
                         " ON CONFLICT (source, key) DO UPDATE SET value = excluded.value,"
                         " updated_us = excluded.updated_us",
                         (source, key, value, to_us(datetime.now(timezone.utc))))

    @_guarded
    def record_crawl(self, health: CrawlHealth) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO crawls (source, started_us, doc) VALUES (?,?,?)",
                         (health.source, to_us(health.started_at), health.model_dump_json()))

    @_guarded
    def crawl_history(self, source: str | None = None, limit: int = 20) -> list[CrawlHealth]:
        if source is None:
            rows = self._read().execute("SELECT doc FROM crawls ORDER BY started_us DESC, seq DESC LIMIT ?", (limit,))
        else:
            rows = self._read().execute("SELECT doc FROM crawls WHERE source = ? ORDER BY started_us DESC, seq DESC"
                                        " LIMIT ?", (source, limit))
        return [CrawlHealth.model_validate_json(doc) for (doc,) in rows]

    # ---- incidents -----------------------------------------------------------------
    @_guarded
    def save_incident(self, incident: Incident) -> None:
        """A compare-and-set on the row's version (see ``Store.save_incident``)."""
        row = (incident.fingerprint, incident.state.value, to_us(incident.opened_at), to_us(incident.updated_at),
               incident.model_dump_json(), incident.id)
        with self._write() as conn:
            try:
                if incident.revision is None:
                    conn.execute("INSERT INTO incidents (fingerprint, state, opened_us, updated_us, doc, id, version)"
                                 " VALUES (?,?,?,?,?,?,1)", row)
                    version = 1
                else:
                    expected = int(incident.revision)
                    cursor = conn.execute("UPDATE incidents SET fingerprint = ?, state = ?, opened_us = ?, updated_us = ?,"
                                          " doc = ?, version = version + 1 WHERE id = ? AND version = ?",
                                          (*row, expected))
                    if cursor.rowcount != 1:
                        raise IncidentConflict(incident.id)
                    version = expected + 1
            except sqlite3.IntegrityError as exc:
                if "incidents.id" in str(exc):
                    raise IncidentConflict(incident.id, "already exists (created by another writer)") from None
                holder = conn.execute("SELECT id FROM incidents WHERE fingerprint = ? AND state != 'resolved'",
                                      (incident.fingerprint,)).fetchone()
                raise FingerprintTaken(incident.id, incident.fingerprint, holder[0] if holder else None) from None
        incident.revision = str(version)

    @staticmethod
    def _incident(doc: str, version: int) -> Incident:
        incident = Incident.model_validate_json(doc)
        incident.revision = str(version)
        return incident

    @_guarded
    def get_incident(self, incident_id: str) -> Incident | None:
        conn = self._read()
        row = conn.execute("SELECT doc, version FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None and incident_id:
            rows = conn.execute("SELECT id, doc, version FROM incidents WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 6",
                                (len(incident_id), incident_id)).fetchall()
            if len(rows) > 1:
                shown = ", ".join(r[0] for r in rows[:5])
                raise StoreError(f"incident id prefix '{incident_id}' is ambiguous: it matches {shown}"
                                 f"{' ...' if len(rows) > 5 else ''}")
            row = rows[0][1:] if rows else None
        return self._incident(*row) if row else None

    @_guarded
    def find_incident(self, fingerprint: str, include_resolved: bool = False) -> Incident | None:
        sql = "SELECT doc, version FROM incidents WHERE fingerprint = ?"
        if not include_resolved:
            sql += " AND state != 'resolved'"
        row = self._read().execute(sql + " ORDER BY opened_us DESC, id DESC LIMIT 1", (fingerprint,)).fetchone()
        return self._incident(*row) if row else None

    @_guarded
    def list_incidents(self, states: Iterable[str] | None = None, since: datetime | None = None,
                       limit: int = 100) -> list[Incident]:
        clauses, params = ["1"], []
        if states is not None:
            wanted = [getattr(s, "value", s) for s in states]
            clauses.append(f"state IN ({_marks(len(wanted))})" if wanted else "0")
            params.extend(wanted)
        if since is not None:
            clauses.append("updated_us >= ?")
            params.append(to_us(since))
        rows = self._read().execute(f"SELECT doc, version FROM incidents WHERE {' AND '.join(clauses)}"
                                    " ORDER BY updated_us DESC, id LIMIT ?", [*params, limit])
        return [self._incident(doc, version) for doc, version in rows]

    # ---- the team's labels -----------------------------------------------------------
    @_guarded
    def save_labels(self, labels: Iterable[TeamLabel]) -> int:
        now = datetime.now(timezone.utc)
        rows = [(label.post_id, label.task, label.label, label.source, to_us(label.labelled_at or now))
                for label in labels]
        with self._write() as conn:
            conn.executemany("INSERT INTO team_labels (post_id, task, label, source, labelled_us) VALUES (?, ?, ?, ?, ?)"
                             " ON CONFLICT (post_id, task) DO UPDATE SET label = excluded.label,"
                             " source = excluded.source, labelled_us = excluded.labelled_us", rows)
        return len(rows)

    @_guarded
    def get_labels(self, task: str | None = None) -> list[TeamLabel]:
        sql = "SELECT post_id, task, label, source, labelled_us FROM team_labels"
        rows = self._read().execute(sql + (" WHERE task = ?" if task else "") + " ORDER BY post_id, task",
                                    (task,) if task else ())
        return [TeamLabel(post_id, task_, label, source, from_us(us)) for post_id, task_, label, source, us in rows]

    # ---- key/value state -----------------------------------------------------------
    @_guarded
    def get_state(self, key: str) -> str | None:
        row = self._read().execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _put_state(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            conn.execute("INSERT INTO state (key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    @_guarded
    def set_state(self, key: str, value: str | None) -> None:
        with self._write() as conn:
            self._put_state(conn, key, value)

    @_guarded
    def update_state(self, key: str, change: Callable[[str | None], str | None]) -> str | None:
        with self._write() as conn:  # BEGIN IMMEDIATE: no other writer between the read and the write
            row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
            value = change(row[0] if row else None)
            self._put_state(conn, key, value)
        return value
