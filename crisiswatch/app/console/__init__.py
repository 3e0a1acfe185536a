"""The incident console (``crisiswatch serve``): FastAPI with server-rendered Jinja2 pages, no
script at all, built for a phone first. See docs/console.md."""
