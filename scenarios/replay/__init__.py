"""Replay server: scenario posts served in each platform's real format on a scenario clock (demo, tests, drills)."""

from scenarios.replay.clock import ScenarioClock
from scenarios.replay.server import Fault, ReplayServer

__all__ = ["Fault", "ReplayServer", "ScenarioClock"]
