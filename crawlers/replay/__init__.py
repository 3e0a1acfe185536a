"""Replay server: scenario posts served in each platform's real format on a scenario clock."""

from crawlers.replay.clock import ScenarioClock
from crawlers.replay.server import Fault, ReplayServer

__all__ = ["Fault", "ReplayServer", "ScenarioClock"]
