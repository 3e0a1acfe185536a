"""The shipped example configuration validates, and broken copies of it give
FILE:LINE: key.path: reason errors and exit status 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.config import load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "crisiswatch.example.yaml"


def check(path: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    return result.exit_code, result.stderr.splitlines() + result.stdout.splitlines()


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_example_passes_config_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the secrets its channels name are set (a missing one is a check error, not a
    delivery that fails at 3 a.m.)."""
    code, output = check(EXAMPLE)
    assert code == 2 and any("environment variable CRISISWATCH_SMTP_PASSWORD is not set" in line for line in output)
    for name in set(re.findall(r"\$\{(CRISISWATCH_[A-Z0-9_]+)\}", EXAMPLE.read_text(encoding="utf-8"))):
        monkeypatch.setenv(name, "example-value")
    code, output = check(EXAMPLE)
    assert code == 0, output
    assert "OK" in " ".join(output)


def test_example_has_every_section_and_bilingual_watchlists() -> None:
    config = load_config(EXAMPLE)
    assert config.sources and config.rules and config.channels and config.routes and config.crisis_lexicon
    for watchlist in config.watchlists:
        assert any(any("\u4e00" <= ch <= "\u9fff" for ch in term) for term in watchlist.terms), watchlist.name
        assert any(term.isascii() for term in watchlist.terms), watchlist.name
    assert any(w.exclude for w in config.watchlists)
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "${CRISISWATCH_" in text  # secrets appear only as placeholders


@pytest.mark.parametrize(("original", "broken", "expected"), [
    ("  sqlite_path: data/crisiswatch.db", "  sqlite_pth: data/crisiswatch.db", "store.sqlite_pth: Extra inputs"),
    ("  retention: 180d", "  retention: soon", "store.retention:"),
    ("    password: null ", "    password: hunter2 ", "store.elasticsearch.password: secrets must not be written"),
    ("    kind: person", "    kind: celebrity", "watchlists[2].kind:"),
    ("  near_duplicates_threshold: 0.8", "  near_duplicates_threshold: 1.5", "models.near_duplicates_threshold:"),
])
def test_a_broken_key_is_reported_with_file_line_and_path(tmp_path: Path, original: str, broken: str,
                                                          expected: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert original in text
    broken_text = text.replace(original, broken, 1)
    path = tmp_path / "broken.yaml"
    path.write_text(broken_text, encoding="utf-8")
    code, output = check(path)
    assert code == 2
    line = line_of(broken_text, broken.strip())
    assert any(o.startswith(f"{path}:{line}: {expected}") for o in output), output


def test_an_unknown_channel_in_a_route_is_reported_with_its_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    routes_at = text.index("\nroutes:")
    first = re.compile(r"^(    channels: \[)[^\],]+", re.M).search(text, routes_at)
    assert first is not None, "the example's first route has no channels line"
    broken_text = text[:first.start()] + first.group(1) + "pager" + text[first.end():]
    path = tmp_path / "route.yaml"
    path.write_text(broken_text, encoding="utf-8")
    code, output = check(path)
    assert code == 2
    line = broken_text[:first.start()].count("\n") + 1
    assert f"{path}:{line}: routes[0].channels: unknown channel 'pager'" in output, output


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("  retention: 180d", "  retention: soon", 1).replace("    kind: person", "    kind: x", 1)
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    code, output = check(path)
    assert code == 2
    assert sum(1 for o in output if o.startswith(f"{path}:")) == 2
    assert any("2 problem(s)" in o for o in output)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("crisis_lexicon: [召回,", "crisis_lexicon: [召回,, ]]", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, output = check(path)
    assert code == 2
    assert any(o.startswith(f"{path}:") and "invalid YAML" in o for o in output), output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, output = check(tmp_path / "nope.yaml")
    assert code == 2 and any("nope.yaml" in o for o in output)
