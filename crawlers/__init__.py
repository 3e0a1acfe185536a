"""Scrapy spiders, pipelines and the replay server that feed public posts into the store."""
