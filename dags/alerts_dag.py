"""``alerts``: evaluate the rules, update incidents, deliver notifications.

Runs when enrichment updates the enriched-posts Asset and also every
``alerting.evaluate_every``: escalation timers, auto-resolution and source-silence checks must
keep going when no posts arrive. One run at a time, so that two evaluations never race on
the same incident. ``deliver`` first retries notifications that earlier runs could not
deliver (a channel was down); ``evaluate`` runs even when that fails, and is the last task so
that the run fails exactly when evaluation fails. The notification log makes sure nothing is
sent twice.
"""

from __future__ import annotations

from airflow.sdk import (AssetOrTimeSchedule, CronTriggerTimetable, DeltaTriggerTimetable, dag,
                        get_current_context, task)

from crisiswatch.app import airflow_glue as cw

_config = cw.dag_config()
_every = cw.schedule(_config.alerting.evaluate_every)
_timetable = (DeltaTriggerTimetable(_every) if not isinstance(_every, str)
              else CronTriggerTimetable(_every, timezone="UTC"))


@dag(
    dag_id="alerts",
    description="Detect crises, update incidents, notify and escalate",
    schedule=AssetOrTimeSchedule(timetable=_timetable, assets=[cw.ENRICHED_POSTS]),
    start_date=cw.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=cw.task_defaults(_config),
    tags=["crisiswatch", "alerts"],
    params={
        "now": cw.time_param("Evaluate as of this time (ISO 8601, UTC) instead of the clock: "
                                 "drills and replays. Data after it is not looked at."),
    },
    doc_md=__doc__,
)
def alerts():
    @task(retries=1, trigger_rule="all_done",
          execution_timeout=cw.parse_duration(_config.alerting.evaluate_every) * 2, **cw.queue_args("alerts", _config))
    def evaluate() -> dict:
        config = cw.task_config()
        now = cw.parse_time(get_current_context()["params"].get("now"))
        with cw.open_store(config) as store:
            report, errors = cw.steps.evaluate(store, config, now=now)
        if report is None:
            raise RuntimeError("; ".join(errors) or "alert evaluation failed")
        print(f"alert evaluation at {report.at}: {report.summary()}")
        for line in [change.describe() for change in report.changes] + report.errors:
            print(f"  {line}")
        return {"at": report.at.isoformat(), "summary": report.summary(), "delivered": report.delivered,
                "firing": [f"{e.rule} {e.watchlist or ''} {e.level.value if e.level else ''}".strip()
                           for e in report.fired],
                "incidents": [change.describe() for change in report.changes], "errors": report.errors}

    @task(**cw.queue_args("alerts", _config))
    def deliver() -> int:
        config = cw.task_config()
        now = cw.parse_time(get_current_context()["params"].get("now"))
        with cw.open_store(config) as store:
            sent = cw.steps.deliver(store, config, now=now)
        print(f"{sent} queued notifications delivered")
        return sent

    deliver() >> evaluate()


alerts()
