"""Crisis detection and response: detectors, severity, incidents, routing, notification, backtest.

Entry points: ``alerts.engine.evaluate_cycle`` (one live cycle), ``alerts.notify.deliver_pending``
(retry queued deliveries), ``alerts.backtest.run_backtest`` and the CLI in ``crisiswatch.app.cli.alerts_commands``.
"""
