"""``crisiswatch ingest | search | stats | export`` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiswatch.app.cli import app

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def line(native: str, text: str, hours_ago: float, source: str = "weibo", **extra: object) -> str:
    created = (NOW - timedelta(hours=hours_ago)).isoformat()
    return json.dumps({"id": f"{source}:{native}", "source": source, "text": text, "created_at": created, **extra},
                      ensure_ascii=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRISISWATCH_CONFIG", raising=False)
    monkeypatch.delenv("CRISISWATCH_ELASTICSEARCH_URL", raising=False)
    (tmp_path / "cw.yaml").write_text(
        "store:\n  sqlite_path: data/cw.db\n"
        "watchlists:\n  - name: acme\n    terms: [Acme, 艾克美]\n", encoding="utf-8")
    (tmp_path / "posts.jsonl").write_text("\n".join([
        line("1", "艾克美奶粉召回，宝宝中毒", 1),
        line("2", "Acme recall announced", 30, source="reddit"),
        "{broken json",
        line("3", "今天天气很好", 2, enrichment={"sentiment": "positive", "language": "zh"}),
        '{"id": "weibo:4", "source": "weibo"}',
    ]) + "\n", encoding="utf-8")
    return tmp_path


def run(*args: str) -> object:
    return CliRunner().invoke(app, [*args, "--config", "cw.yaml"])


def test_ingest_reports_bad_lines_keeps_good_ones_and_is_idempotent(workdir: Path) -> None:
    result = run("ingest", "posts.jsonl")
    assert result.exit_code == 1
    assert "posts.jsonl:3: invalid JSON" in result.stderr
    assert "posts.jsonl:5: not a post" in result.stderr and "created_at" in result.stderr
    assert "5 lines, 3 posts imported, 2 skipped" in result.stdout
    assert "1 enrichments restored" in result.stdout and "2 posts matched to watchlists" in result.stdout
    run("ingest", "posts.jsonl")
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["total"] == 3
    assert stats["watchlist"] == {"acme": 2, "none": 1}
    assert stats["sentiment"] == {"none": 2, "positive": 1}


def test_ingest_of_a_clean_file_exits_zero_and_a_missing_one_two(workdir: Path) -> None:
    (workdir / "clean.jsonl").write_text(line("9", "fine", 1) + "\n", encoding="utf-8")
    assert run("ingest", "clean.jsonl").exit_code == 0
    missing = run("ingest", "nope.jsonl")
    assert missing.exit_code == 2 and "nope.jsonl" in missing.stderr


def test_search_finds_two_character_chinese_and_respects_since(workdir: Path) -> None:
    run("ingest", "posts.jsonl")
    found = run("search", "召回")
    assert found.exit_code == 0 and "1 of 1 matching posts" in found.stdout and "艾克美奶粉召回" in found.stdout
    both = run("search", "召回 OR recall", "--json")
    assert sorted(json.loads(row)["id"] for row in both.stdout.splitlines()) == ["reddit:2", "weibo:1"]
    recent = run("search", "召回 OR recall", "--since", "24h", "--json")
    assert [json.loads(row)["id"] for row in recent.stdout.splitlines()] == ["weibo:1"]
    only_reddit = run("search", "recall", "--source", "reddit", "--watchlist", "acme", "--json")
    assert [json.loads(row)["id"] for row in only_reddit.stdout.splitlines()] == ["reddit:2"]
    bad = run("search", "x", "--since", "last tuesday")
    assert bad.exit_code == 2 and "last tuesday" in bad.stderr


def test_stats_prints_tables(workdir: Path) -> None:
    run("ingest", "posts.jsonl")
    result = run("stats")
    assert result.exit_code == 0
    assert "3 posts, 1 enriched, 2 waiting for enrichment" in result.stdout
    assert "by source" in result.stdout and "weibo" in result.stdout and "66.7%" in result.stdout


def test_export_csv_and_jsonl_and_reimport(workdir: Path) -> None:
    run("ingest", "posts.jsonl")
    result = run("export", "--format", "csv", "--output", "out.csv")
    assert result.exit_code == 0 and "3 posts written" in result.stdout
    rows = list(csv.DictReader(io.StringIO((workdir / "out.csv").read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == ["reddit:2", "weibo:3", "weibo:1"]  # oldest first
    assert rows[1]["sentiment"] == "positive"
    streamed = run("export", "--since", "24h")
    assert [json.loads(r)["id"] for r in streamed.stdout.splitlines()] == ["weibo:3", "weibo:1"]
    (workdir / "again.jsonl").write_text(streamed.stdout, encoding="utf-8")
    (workdir / "other.yaml").write_text("store:\n  sqlite_path: data/other.db\n", encoding="utf-8")
    reimport = CliRunner().invoke(app, ["ingest", "again.jsonl", "--config", "other.yaml"])
    assert reimport.exit_code == 0 and "2 posts imported" in reimport.stdout
    assert "1 enrichments restored" in reimport.stdout
    assert run("export", "--format", "xml").exit_code == 2


def test_corrupt_store_is_one_clear_error(workdir: Path) -> None:
    (workdir / "data").mkdir()
    (workdir / "data" / "cw.db").write_bytes(b"garbage" * 1000)
    result = run("stats")
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())  # rich may wrap long lines
    assert "data/cw.db" in message and "not a usable crisiswatch SQLite database" in message
    assert "Traceback" not in result.stderr + result.stdout


# ---- issue 12: the query language on the command line, and ingest reports -----------------
@pytest.mark.parametrize("query", ['"', '""', "OR", "(and", "acme AND"])
def test_a_query_that_cannot_be_parsed_exits_2_with_the_position(workdir: Path, query: str) -> None:
    run("ingest", "posts.jsonl")
    result = run("search", query)
    assert result.exit_code == 2, result.stdout  # before: every post was listed
    assert "position" in result.stderr and "^" in result.stderr and "matching posts" not in result.stdout


def test_search_operators_and_negation_from_the_shell(workdir: Path) -> None:
    run("ingest", "posts.jsonl")

    def ids(*args: str) -> list[str]:
        result = run("search", *args, "--json")
        assert result.exit_code == 0, result.stderr
        return sorted(json.loads(row)["id"] for row in result.stdout.splitlines())

    assert ids("召回 OR recall") == ["reddit:2", "weibo:1"]
    assert ids("-recall") == ["weibo:1", "weibo:3"]          # a leading dash is a query word, not an option
    after_dashes = CliRunner().invoke(app, ["search", "--json", "--config", "cw.yaml", "--", "-recall"])
    assert sorted(json.loads(row)["id"] for row in after_dashes.stdout.splitlines()) == ["weibo:1", "weibo:3"]
    assert ids("(召回", "OR", "recall)", "-source:weibo") == ["reddit:2"]  # unquoted words are one query
    assert ids("-n", "1", "-sentiment:positive") == ["weibo:1"]          # options still work around it
    assert ids("source:reddit OR sentiment:positive") == ["reddit:2", "weibo:3"]
    assert run("search", " ").exit_code == 2


def test_export_refuses_a_query_that_cannot_be_parsed(workdir: Path) -> None:
    result = run("export", "--query", "recall OR")
    assert result.exit_code == 2 and "position 8" in result.stderr


def test_ingest_summary_reports_warnings_and_accepts_native_ids(workdir: Path) -> None:
    future = (NOW + timedelta(hours=3)).isoformat()
    (workdir / "odd.jsonl").write_text("\n".join([
        json.dumps({"id": "1", "source": "twitter", "text": "plain", "created_at": NOW.isoformat()}),
        json.dumps({"id": "2", "text": "native id", "created_at": NOW.isoformat()}),
        json.dumps({"id": "1", "source": "twitter", "text": "again", "created_at": NOW.isoformat()}),
        json.dumps({"id": "3", "source": "twitter", "text": "x" * 200_000, "created_at": NOW.isoformat()}),
        json.dumps({"id": "4", "source": "twitter", "text": "ahead", "created_at": future}),
        json.dumps({"id": "5", "source": "twitter", "text": "epoch", "timestamp": 1e20}),
    ]) + "\n", encoding="utf-8")
    result = run("ingest", "odd.jsonl", "--source", "twitter", "--problems", "problems.txt")
    assert result.exit_code == 1  # one line skipped
    assert "6 lines, 4 posts imported, 1 skipped" in result.stdout
    assert "1 duplicate ids" in result.stdout and "1 dated in the future" in result.stdout
    assert "1 texts truncated" in result.stdout
    assert "odd.jsonl:3: warning: post id twitter:1 already on line 1" in result.stderr
    assert "odd.jsonl:6: " in result.stderr and "out of range" in result.stderr
    assert (workdir / "problems.txt").read_text(encoding="utf-8").count("odd.jsonl:") == 4
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["source"] == {"twitter": 4}
