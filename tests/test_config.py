"""Configuration loading: defaults, durations, secrets from the environment, and errors
that name the file, line and key path."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from crisiswatch.core.config import (Config, ConfigError, MissingSecret, load_config, parse_config, parse_duration,
                                resolve_secrets)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800),
                                               ("1w", 604800), ("1.5h", 5400), (30, 30), (" 5 m ", 300)])
def test_parse_duration(text: object, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["soon", "5 minutes", "", "h"])
def test_parse_duration_rejects_unclear_text(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_empty_file_gives_working_defaults() -> None:
    config = parse_config("")
    assert config.store.sqlite_path == "data/crisiswatch.db" and config.watchlists == []
    assert config.elasticsearch_url() is None or config.elasticsearch_url()  # env may point to a cluster


def test_secrets_resolve_from_environment_only() -> None:
    assert resolve_secrets("smtp://u:${CRISISWATCH_PW}@host", {"CRISISWATCH_PW": "s3cret"}) == "smtp://u:s3cret@host"
    with pytest.raises(MissingSecret, match="CRISISWATCH_PW"):
        resolve_secrets("smtp://u:${CRISISWATCH_PW}@host", {})
    with pytest.raises(ConfigError, match="credential 'token'"):
        parse_config("sources:\n  - name: s\n    platform: rss\n    credentials: {token: abc123}\n")
    config = parse_config("store:\n  elasticsearch:\n    password: ${CRISISWATCH_ES_PASSWORD}\n")
    assert "${CRISISWATCH_ES_PASSWORD}" in config.model_dump_json()  # printing a config never prints a secret


def test_errors_name_file_line_and_key_path() -> None:
    text = ("store:\n"
            "  sqlite_path: x.db\n"
            "watchlists:\n"
            "  - name: acme\n"
            "    terms: []\n"
            "  - name: beta\n"
            "    terms: [b]\n"
            "    colour: red\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cw.yaml")
    problems = caught.value.problems
    assert any(p.startswith("cw.yaml:5: watchlists[0].terms:") for p in problems), problems
    assert any(p.startswith("cw.yaml:8: watchlists[1].colour: Extra inputs") for p in problems), problems


def test_cross_reference_errors_name_their_line() -> None:
    text = ("watchlists:\n"
            "  - {name: acme, terms: [Acme]}\n"
            "routes:\n"
            "  - name: r\n"
            "    channels: [nowhere]\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cw.yaml")
    assert caught.value.problems == ["cw.yaml:5: routes[0].channels: unknown channel 'nowhere'"]


def test_duplicate_names_are_reported() -> None:
    with pytest.raises(ConfigError, match=r"watchlists\[1\].name: duplicate name 'a'"):
        parse_config("watchlists:\n  - {name: a, terms: [x]}\n  - {name: a, terms: [y]}\n")


def test_load_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRISISWATCH_CONFIG", raising=False)
    assert load_config() == Config()  # nothing anywhere: defaults
    (tmp_path / "crisiswatch.yaml").write_text("data_dir: from-cwd\n")
    assert load_config().data_dir == "from-cwd"
    (tmp_path / "env.yaml").write_text("data_dir: from-env\n")
    monkeypatch.setenv("CRISISWATCH_CONFIG", str(tmp_path / "env.yaml"))
    assert load_config().data_dir == "from-env"
    (tmp_path / "arg.yaml").write_text("data_dir: from-arg\n")
    assert load_config(tmp_path / "arg.yaml").data_dir == "from-arg"
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "latin1.yaml").write_bytes("data_dir: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "latin1.yaml")


def test_elasticsearch_url_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config("store:\n  elasticsearch:\n    url: http://file:9200\n")
    monkeypatch.delenv("CRISISWATCH_ELASTICSEARCH_URL", raising=False)
    assert config.elasticsearch_url() == "http://file:9200"
    monkeypatch.setenv("CRISISWATCH_ELASTICSEARCH_URL", "http://env:9200")
    assert config.elasticsearch_url() == "http://env:9200"


def _key_paths(model: type, prefix: str = "") -> list[str]:
    """Every documented key path of the schema, lists written as ``name[]``."""
    from typing import get_args

    from pydantic import BaseModel

    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        nested = [a for a in (field.annotation, *get_args(field.annotation)) if isinstance(a, type)
                  and issubclass(a, BaseModel)]
        for inner in nested:
            is_list = "list[" in str(field.annotation)
            paths.extend(_key_paths(inner, f"{path}[]." if is_list else f"{path}."))
    return paths


def test_configuration_reference_documents_every_key() -> None:
    documented = set(re.findall(r"`([a-z_][\w\[\].<>]*)`", DOCS.read_text(encoding="utf-8")))
    task = re.compile(r"^models\.(embeddings|sentiment|emotion|category)\.")
    missing = [path for path in _key_paths(Config) if path not in documented
               and task.sub("models.<task>.", path) not in documented]
    assert not missing, f"docs/configuration.md does not document: {', '.join(missing)}"


def test_rule_params_and_default_thresholds_come_from_the_detector() -> None:
    from crisiswatch.core.model import Level

    config = parse_config("rules:\n"
                          "  - {name: spread, detector: cross_platform, params: {min_sources: 4}}\n"
                          "  - {name: volume, detector: volume_spike}\n"
                          "  - {name: own, detector: volume_spike, thresholds: {blue: 2, red: 5}}\n")
    spread, volume, own = config.rules
    assert spread.detector_params().min_sources == 4 and volume.detector_params().windows == [1, 4]
    # cross_platform scores a number of sources: its levels follow min_sources
    assert spread.level_thresholds() == {Level.blue: 4, Level.yellow: 5, Level.orange: 6, Level.red: 7}
    assert volume.level_thresholds() == {Level.blue: 4, Level.yellow: 6, Level.orange: 9, Level.red: 13}
    assert own.level_thresholds() == {Level.blue: 2, Level.red: 5}


def test_rule_errors_name_the_rule_detector_and_key() -> None:
    text = ("rules:\n"
            "  - name: spread\n"
            "    detector: cross_platform\n"
            "    params: {min_sources: 1}\n"
            "  - name: gone\n"
            "    detector: volume_peak\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cw.yaml")
    first, second = caught.value.problems
    assert first.startswith("cw.yaml:2: rules[0]: rule 'spread' (cross_platform): params.min_sources: "
                            "Input should be greater than or equal to 2")
    assert second.startswith("cw.yaml:6: rules[1].detector: unknown detector 'volume_peak' (known: ")
    assert "cross_platform" in second and "source_silence" in second
