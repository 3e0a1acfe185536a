"""The enrich and nlp commands, run through the real typer app against a SQLite store."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from crisiswatch.app.cli import app
from crisiswatch.core.store.sqlite import SqliteStore
from tests.nlp.conftest import make_posts

runner = CliRunner()


def _config_file(tmp_path, tiny_models):
    models = json.loads(tiny_models.model_dump_json())
    models["topics"] = False
    path = tmp_path / "crisiswatch.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "models": models,
                                    "store": {"sqlite_path": str(tmp_path / "store.db")}}), encoding="utf-8")
    return path


def test_enrich_command_enriches_the_store(tmp_path, tiny_models):
    config = _config_file(tmp_path, tiny_models)
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    store.upsert_posts(make_posts(["服务太差了", "great crew", "", "https://x.y"]))
    store.close()
    result = runner.invoke(app, ["enrich", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "enriched 4 posts" in result.output
    store = SqliteStore(tmp_path / "store.db")
    assert len(store.get_enrichments([f"test:{i}" for i in range(4)])) == 4
    store.close()


def test_nlp_train_prints_scores_and_the_config_to_use(tmp_path, tiny_models):
    config = _config_file(tmp_path, tiny_models)
    data = tmp_path / "labels.jsonl"
    data.write_text("\n".join(json.dumps({"text": f"{word} {i}", "label": label})
                              for i in range(12) for word, label in (("awful", "negative"), ("lovely", "positive"))),
                    encoding="utf-8")
    result = runner.invoke(app, ["nlp", "train", "--task", "sentiment", "--data", str(data), "--out",
                                 str(tmp_path / "mine"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "accuracy=" in result.output and "macro_f1=" in result.output
    assert "negative" in result.output and "positive" in result.output
    assert (tmp_path / "mine" / "crisiswatch_head.json").is_file()


def test_nlp_train_rejects_bad_input_clearly(tmp_path, tiny_models):
    config = _config_file(tmp_path, tiny_models)
    result = runner.invoke(app, ["nlp", "train", "--task", "mood", "--data", "x.csv", "--config", str(config)])
    assert result.exit_code == 2 and "--task must be one of" in result.output
    result = runner.invoke(app, ["nlp", "train", "--task", "sentiment", "--data", str(tmp_path / "missing.csv"),
                                 "--config", str(config)])
    assert result.exit_code == 1 and "file not found" in result.output


def test_nlp_analyse_prints_one_json_line_per_text(tmp_path, tiny_models):
    config = _config_file(tmp_path, tiny_models)
    result = runner.invoke(app, ["nlp", "analyse", "服务太差了", "", "--config", str(config)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [row["language"] for row in rows] == ["zh", "und"]
    assert rows[1]["skipped_reason"] == "empty text"
