"""The processes of the chaos test (test_chaos.py): each runs the real CLI commands, in its
own process with its own store connection, and reports what it did to a queue."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner


def _cli(*args: str) -> tuple[int, str]:
    from crisiswatch.app.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _incidents(config: str, deadline: float, wanted: int) -> list[str]:
    while time.time() < deadline:  # the evaluators open them
        code, out = _cli("alerts", "list", "--state", "all", "--json", "-c", config)
        ids = sorted(json.loads(line)["id"] for line in out.splitlines() if line.startswith("{")) if code == 0 else []
        if len(ids) >= wanted:
            return ids
        time.sleep(0.2)
    return []


def run(role: str, number: int, config: str, now: str, later: str, wanted: int, stop, queue) -> None:  # noqa: ANN001
    """One worker: ``role`` is evaluator, deliverer, acker, noter, assigner or resolver;
    deliverers go on until ``stop`` (an Event) is set."""
    done: list[tuple] = []
    try:
        if role == "evaluator":
            for _ in range(3):  # the same cycle, again and again, from several processes
                done.append(("evaluate", *_cli("alerts", "evaluate", "--now", now, "-c", config)))
        elif role == "deliverer":
            while not stop.is_set():
                done.append(("deliver", *_cli("alerts", "deliver", "--now", later, "-c", config)))
                time.sleep(0.3)
        else:
            ids = _incidents(config, time.time() + 120, wanted)
            for k, incident in enumerate(ids):
                if role == "acker":
                    code, out = _cli("alerts", "ack", incident, "--by", f"acker{number}", "-c", config)
                    done.append(("ack", incident, f"acker{number}", code, out))
                elif role == "noter":
                    for j in range(2):
                        text = f"note {number}.{j} on {incident}"
                        code, out = _cli("alerts", "note", incident, text, "--by", f"noter{number}", "-c", config)
                        done.append(("note", incident, text, code, out))
                elif role == "assigner":
                    code, out = _cli("alerts", "assign", incident, "--to", f"owner{k}", "--by", "lead", "-c", config)
                    done.append(("assign", incident, f"owner{k}", code, out))
                elif role == "resolver" and k == 0:
                    time.sleep(1.0)
                    code, out = _cli("alerts", "resolve", incident, "--note", "chaos over", "--by", "resolver",
                                     "-c", config)
                    done.append(("resolve", incident, "resolver", code, out))
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
        done.append(("crash", role, repr(exc)))
    queue.put((role, number, done))
