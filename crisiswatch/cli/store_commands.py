"""Store commands (ingest, search, stats, export); filled in by the foundation work."""


def register(app) -> None:  # noqa: ANN001
    return None
