"""A detector added by a package of its own, as a third party would: one module exposing a
``DetectorSpec`` and one ``crisiswatch.detectors`` entry point, nothing edited in crisiswatch.

The package is written to a temporary folder with real entry-point metadata
(tests/extension_package.py); the registry finds it exactly as it finds an installed wheel.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crisiswatch.core import registry
from crisiswatch.core.config import ConfigError, parse_config
from crisiswatch.core.model import Level

from alerts.backtest import run_backtest
from alerts.severity import rule_level
from tests.alerts.helpers import ONSET, world_config
from tests.extension_package import make_package

TOY_MODULE = '''
"""A toy rule type: posts of the rule's filter in the window, one level per ``per_level`` posts."""

from pydantic import Field

from crisiswatch.core.extensions import DetectorSpec
from crisiswatch.core.model import Level

from alerts.detectors.base import DetectorParams, collect_evidence


class CountParams(DetectorParams):
    per_level: int = Field(default=5, ge=1)
    """Posts in the window per level step."""


def thresholds(params):
    n = params.per_level
    return {Level.blue: n, Level.yellow: 2 * n, Level.orange: 3 * n, Level.red: 4 * n}


def count_in_window(ctx):
    flt = ctx.base_filter(since=ctx.window_start, until=ctx.bucket_end)
    n = ctx.store.count_posts(flt)
    evaluation = ctx.evaluation(observed=n, baseline=None, spread=None, score=n, filter=flt,
                                window_start=ctx.window_start, title=f"{n} posts say recall")
    if evaluation.fired:
        evaluation.evidence = collect_evidence(ctx.store, flt)
    return [evaluation]


SPEC = DetectorSpec(name="recall_count", run=count_in_window, params=CountParams, thresholds=thresholds,
                    family="reach", description="posts of the rule's filter in the window")
'''


@pytest.fixture
def toy_detector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Installs the toy package (on sys.path, with its entry point) for one test."""
    root = make_package(tmp_path / "site", "acme-rules", {"acme_rules.recall": TOY_MODULE},
                        {"crisiswatch.detectors": {"recall_count": "acme_rules.recall:SPEC"}})
    monkeypatch.syspath_prepend(str(root))
    registry.forget()
    yield "recall_count"
    registry.forget()
    for name in [m for m in sys.modules if m == "acme_rules" or m.startswith("acme_rules.")]:
        del sys.modules[name]


def toy_rule(params: str = "{per_level: 4}") -> str:
    return ("  - {name: recall-posts, detector: recall_count, bucket: 15m, window: 1h, "
            f"filter: {{text: recall}}, params: {params}}}\n")


def config_with_toy(tmp_path: Path, params: str = "{per_level: 4}"):  # noqa: ANN201
    """The standard world's config, whose rules are only the toy one."""
    config = world_config(str(tmp_path))
    toy = parse_config("rules:\n" + toy_rule(params), "toy.yaml").rules
    return config.model_copy(update={"rules": toy})


def test_the_toy_detector_is_found_through_its_entry_point(toy_detector):
    assert toy_detector in registry.names("detectors")
    assert {"volume_spike", "source_silence"} <= set(registry.names("detectors"))  # ours are still there
    assert registry.get("detectors", toy_detector).family == "reach"


def test_a_backtest_with_the_toy_detector_opens_an_incident_at_its_level(toy_detector, world, tmp_path):
    config = config_with_toy(tmp_path)
    rule = config.rules[0]
    assert rule.level_thresholds() == {Level.blue: 4, Level.yellow: 8, Level.orange: 12, Level.red: 16}
    report = run_backtest(world, config, ONSET - timedelta(hours=2), ONSET + timedelta(hours=1))
    assert report.errors == []
    assert [(i.rule, i.watchlist) for i in report.incidents] == [("recall-posts", "acme")]
    incident = report.incidents[0]
    assert ONSET <= incident.opened_at <= ONSET + timedelta(minutes=30)
    signal = next(iter(incident.evidence["signals"].values()))
    assert signal["detector"] == "recall_count" and signal["family"] == "reach"
    # the level is the toy's own: its thresholds are a function of its params
    assert incident.evidence["observed"] >= 4
    assert signal["level"] == rule_level(incident.evidence["observed"], rule.level_thresholds()).value
    assert incident.peak_level.rank >= Level.yellow.rank  # dozens of posts say recall in the crisis hour
    assert incident.evidence["first_posts"] and "recall" in incident.evidence["first_posts"][0]["text"]


def test_the_toy_thresholds_follow_its_params(toy_detector, world, tmp_path):
    config = config_with_toy(tmp_path, "{per_level: 100000}")
    report = run_backtest(world, config, ONSET - timedelta(hours=1), ONSET + timedelta(hours=1))
    assert report.errors == [] and report.incidents == []


def test_bad_params_of_the_toy_are_reported_by_its_own_model(toy_detector):
    text = "rules:\n" + toy_rule("{per_level: 0, per_levle: 3}")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "rules.yaml")
    problem = caught.value.problems[0]
    assert problem.startswith("rules.yaml:2: rules[0]: ")
    assert "rule 'recall-posts' (recall_count): params.per_level: Input should be greater than or equal to 1" in problem
    assert "params.per_levle: Extra inputs are not permitted" in problem


def test_an_unknown_detector_is_a_clear_error_with_its_line(toy_detector):
    text = ("rules:\n"
            "  - name: typo\n"
            "    detector: volume_spiek\n")
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "rules.yaml")
    [problem] = caught.value.problems
    assert problem.startswith("rules.yaml:3: rules[0].detector: unknown detector 'volume_spiek' (known: ")
    for name in ("volume_spike", "source_silence", "recall_count"):
        assert name in problem  # the known ones, a package's included


def test_without_its_package_the_toy_rule_is_an_unknown_detector():
    registry.forget()
    with pytest.raises(ConfigError, match="unknown detector 'recall_count'"):
        parse_config("rules:\n" + toy_rule(), "rules.yaml")
