"""One folder per platform: ``PLATFORM`` (its spec, in ``__init__``), ``spider``, ``replay``, ``fixtures/``.

Each folder is registered once, by an entry point in the ``crisiswatch.platforms`` group
(``pyproject.toml``), exactly as a third-party package registers its own. ``__init__`` stays
light (pydantic only, no Scrapy): validating a config loads it for every source.
"""
