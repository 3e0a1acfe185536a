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


def test_enrich_since_labels_a_range_again_and_the_alert_baselines_count_the_new_labels(tmp_path, tiny_models):
    """After a model change the team re-enriches the baseline window: posts in the range get the
    current model's labels, the others keep theirs, and the alert rules' cached negative counts
    (which would otherwise keep the old labels as history) are read again."""
    from datetime import timedelta

    from alerts.series import SeriesCache
    from crisiswatch.core.model import Enrichment
    from crisiswatch.core.store.base import PostFilter
    from tests.nlp.conftest import T0

    config = _config_file(tmp_path, tiny_models)
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    posts = make_posts(["the refund never came", "great crew", "服务太差了", "ok"] * 30)
    store.upsert_posts(posts)
    # labels of "an old head": every post negative
    store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative", models={"sentiment": "old@1"})
                              for p in posts])
    negative, hour = PostFilter(sentiments=("negative",)), timedelta(hours=1)
    cached = SeriesCache(store).counts(negative, T0, T0 + 3 * hour, hour, timedelta(0))
    assert cached[0] == 60 and cached[1] == 60  # persisted as the baselines' history
    store.close()

    result = runner.invoke(app, ["enrich", "--since", T0.isoformat(), "--until", (T0 + hour).isoformat(),
                                 "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "cleared 60 enrichments" in result.output and "enriched 60 posts" in result.output
    store = SqliteStore(tmp_path / "store.db")
    enrichments = store.get_enrichments([p.id for p in posts])
    in_range = [enrichments[p.id] for p in posts if p.created_at < T0 + hour]
    assert all(e.models.get("sentiment") != "old@1" for e in in_range)  # the current model's labels
    assert all(enrichments[p.id].models == {"sentiment": "old@1"} for p in posts if p.created_at >= T0 + hour)
    fresh = SeriesCache(store).counts(negative, T0, T0 + 3 * hour, hour, timedelta(0))
    assert fresh[0] == sum(e.sentiment == "negative" for e in in_range) < 60  # not the cached 60
    assert fresh[1] == 60  # outside the range: the old labels, untouched
    store.close()


def test_enrich_since_refuses_bad_times_before_touching_anything(tmp_path, tiny_models):
    from crisiswatch.core.model import Enrichment

    config = _config_file(tmp_path, tiny_models)
    store = SqliteStore(tmp_path / "store.db")
    store.setup()
    posts = make_posts(["the refund never came", "great crew"])
    store.upsert_posts(posts)
    store.update_enrichments([Enrichment(post_id=p.id, sentiment="negative", models={"sentiment": "old@1"})
                              for p in posts])
    store.close()
    for args, message in ((["--since", "last tuesday"], "neither an ISO time"), (["--until", "1d"], "--until needs --since"),
                          (["--since", "1d", "--until", "2d"], "must be after")):
        result = runner.invoke(app, ["enrich", *args, "--config", str(config)])
        assert result.exit_code != 0 and message in result.output, result.output
    store = SqliteStore(tmp_path / "store.db")
    kept = store.get_enrichments([p.id for p in posts])
    assert [kept[p.id].models for p in posts] == [{"sentiment": "old@1"}] * 2  # nothing cleared or redone
    store.close()
