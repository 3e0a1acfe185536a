"""One spider per platform; each reads its targets from the configured source."""
