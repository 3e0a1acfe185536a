"""``daily_briefing``: the day's report (volume, sentiment, emotion, categories, top posts,
open incidents and response times, with charts) to ``airflow.briefing_channels``.

Runs at ``airflow.briefing_schedule`` (UTC) and covers the 24 hours before it. The report
is written under ``<data_dir>/briefings`` and sent by ``steps.send_briefing`` through the
sender incidents use (outbox, masking, idempotency key; e-mail channels receive the HTML
with the report attached). A channel that already received the briefing for a period is
not sent it again when the run is retried or rerun, unless ``resend`` is set.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from crisiswatch.app import airflow_glue as cw

_config = cw.dag_config()


@dag(
    dag_id="daily_briefing",
    description="Daily situation report to the configured recipients",
    schedule=CronTriggerTimetable(_config.airflow.briefing_schedule, timezone="UTC", interval=timedelta(days=1)),
    start_date=cw.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=cw.task_defaults(_config),
    tags=["crisiswatch", "report"],
    params={
        "start": cw.time_param("Period start (ISO 8601, UTC); default: 24 hours before the run."),
        "end": cw.time_param("Period end (ISO 8601, UTC); default: the scheduled time."),
        "resend": Param(False, type="boolean", description="Send again to channels that already received it."),
    },
    doc_md=__doc__,
)
def daily_briefing():
    @task
    def write() -> dict:
        context = get_current_context()
        params = context["params"]
        end = cw.parse_time(params.get("end")) or cw.run_time(context)
        start = cw.parse_time(params.get("start")) or (end - timedelta(days=1))
        config = cw.task_config()
        with cw.open_store(config) as store:
            path = cw.steps.write_briefing(store, config, start, end, Path(config.data_dir) / "briefings")
        print(f"briefing for {start} .. {end} written to {path}")
        return {"path": str(path), "start": start.isoformat(), "end": end.isoformat()}

    @task
    def send(briefing: dict) -> dict:
        config = cw.task_config()
        start, end = cw.parse_time(briefing["start"]), cw.parse_time(briefing["end"])
        title = f"crisiswatch daily briefing {briefing['start'][:16]} - {briefing['end'][:16]} UTC"
        with cw.open_store(config) as store:
            outcome = cw.steps.send_briefing(config, Path(briefing["path"]), start, end, store=store, title=title,
                                             resend=bool(get_current_context()["params"].get("resend")))
        failed = [name for name, delivered in outcome.items() if not delivered]
        if failed:
            raise RuntimeError(f"briefing not delivered to: {', '.join(failed)} (retried; others already have it)")
        return outcome

    send(write())


daily_briefing()
