"""The core: domain model, configuration, store, text helpers, watchlists and the registry of
extensions. It imports nothing else of the project; every other package may import it."""
