"""Scrapy project: the base spider, pipelines, middlewares, settings, and one folder per platform
(``crawlers/platforms/<name>``) found through the registry of platforms."""
