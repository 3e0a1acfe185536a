"""Write ``crisiswatch.ndjson``: the Kibana saved objects crisiswatch ships.

Data views for posts and incidents, saved searches, the visualisations of issue 7 and the
"Crisis overview" dashboard, in Kibana's saved-objects export format (7.10 object shapes,
which Kibana 8 and 9 migrate on import). Edit this file, not the NDJSON, then run
``python infra/kibana/build_saved_objects.py``; tests/infra/test_kibana_objects.py checks
that the two agree, that every reference resolves and that every field exists in the index
templates. Load with ``crisiswatch kibana import``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("crisiswatch.ndjson")
POSTS = "crisiswatch-posts"
INCIDENTS = "crisiswatch-incidents"
VERSION = "7.10.0"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _search_source(query: str = "") -> dict[str, Any]:
    source = {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
    return {"searchSourceJSON": json.dumps(source, ensure_ascii=False)}


def data_view(obj_id: str, title: str, name: str, time_field: str) -> dict[str, Any]:
    return {"id": obj_id, "type": "index-pattern", "attributes": {"title": title, "name": name,
                                                                 "timeFieldName": time_field},
            "references": [], "migrationVersion": {"index-pattern": "7.11.0"}, "coreMigrationVersion": VERSION}


def saved_search(obj_id: str, title: str, view: str, query: str, columns: list[str],
                 sort_field: str) -> dict[str, Any]:
    return {"id": obj_id, "type": "search",
            "attributes": {"title": title, "description": "", "columns": columns, "sort": [[sort_field, "desc"]],
                           "kibanaSavedObjectMeta": _search_source(query)},
            "references": [{"name": INDEX_REF, "type": "index-pattern", "id": view}],
            "migrationVersion": {"search": "7.9.3"}, "coreMigrationVersion": VERSION}


def _count() -> dict[str, Any]:
    return {"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}


def _terms(agg_id: str, schema: str, field: str, size: int, label: str, order_by: str = "1",
           missing: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"field": field, "size": size, "order": "desc", "orderBy": order_by,
                              "otherBucket": False, "customLabel": label}
    if missing:
        params.update(missingBucket=True, missingBucketLabel=missing)
    return {"id": agg_id, "enabled": True, "type": "terms", "schema": schema, "params": params}


def _date_histogram(agg_id: str, schema: str, field: str) -> dict[str, Any]:
    return {"id": agg_id, "enabled": True, "type": "date_histogram", "schema": schema,
            "params": {"field": field, "useNormalizedEsInterval": True, "interval": "auto", "drop_partials": False,
                       "min_doc_count": 1, "extended_bounds": {}}}


def _xy_params(chart: str, mode: str, percentage: bool = False, horizontal: bool = False) -> dict[str, Any]:
    """Vislib XY parameters: one category axis, one value axis, one series."""
    return {
        "type": chart, "grid": {"categoryLines": False}, "addTooltip": True, "addLegend": True,
        "legendPosition": "right", "times": [], "addTimeMarker": False, "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
        "categoryAxes": [{"id": "CategoryAxis-1", "type": "category", "position": "left" if horizontal else "bottom",
                          "show": True, "style": {}, "scale": {"type": "linear"},
                          "labels": {"show": True, "filter": True, "truncate": 100}, "title": {}}],
        "valueAxes": [{"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value",
                       "position": "bottom" if horizontal else "left", "show": True, "style": {},
                       "scale": {"type": "linear", "mode": "percentage" if percentage else "normal"},
                       "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                       "title": {"text": "share of posts" if percentage else "posts"}}],
        "seriesParams": [{"show": True, "type": "area" if chart == "area" else "histogram", "mode": mode,
                          "data": {"label": "Count", "id": "1"}, "valueAxis": "ValueAxis-1",
                          "drawLinesBetweenPoints": True, "lineWidth": 2, "showCircles": True,
                          "interpolate": "linear"}],
    }


def visualization(obj_id: str, title: str, description: str, view: str, vis_type: str, params: dict[str, Any],
                  aggs: list[dict[str, Any]], query: str = "") -> dict[str, Any]:
    vis_state = {"title": title, "type": vis_type, "params": params, "aggs": aggs}
    return {"id": obj_id, "type": "visualization",
            "attributes": {"title": title, "description": description, "uiStateJSON": "{}", "version": 1,
                           "visState": json.dumps(vis_state, ensure_ascii=False),
                           "kibanaSavedObjectMeta": _search_source(query)},
            "references": [{"name": INDEX_REF, "type": "index-pattern", "id": view}],
            "migrationVersion": {"visualization": VERSION}, "coreMigrationVersion": VERSION}


def _pie(donut: bool = True) -> dict[str, Any]:
    return {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": donut,
            "labels": {"show": True, "values": True, "last_level": True, "truncate": 100}}


def objects() -> list[dict[str, Any]]:
    views = [
        data_view(POSTS, "crisiswatch-posts", "crisiswatch posts", "created_at"),
        data_view(INCIDENTS, "crisiswatch-incidents", "crisiswatch incidents", "opened_at"),
    ]
    searches = [
        saved_search("crisiswatch-negative-posts", "Negative posts", POSTS, "enrichment.sentiment : negative",
                     ["source", "text", "enrichment.emotion", "enrichment.category", "author.handle", "reach",
                      "engagement_total"], "created_at"),
        saved_search("crisiswatch-influential-posts", "Influential posts (reach >= 10,000)", POSTS,
                     "reach >= 10000", ["source", "text", "author.handle", "reach", "enrichment.sentiment"],
                     "created_at"),
        saved_search("crisiswatch-open-incidents", "Open and acknowledged incidents", INCIDENTS,
                     "not state : resolved", ["title", "level", "state", "watchlist", "rule", "assignee", "score"],
                     "updated_at"),
    ]
    visualizations = [
        visualization("crisiswatch-volume-by-sentiment", "Volume over time by sentiment",
                      "Posts per interval, stacked by sentiment (not enriched = waiting for the models).", POSTS,
                      "area", _xy_params("area", "stacked"),
                      [_count(), _date_histogram("2", "segment", "created_at"),
                       _terms("3", "group", "enrichment.sentiment", 5, "sentiment", missing="not enriched")]),
        visualization("crisiswatch-negative-share-by-watchlist", "Negative share by watchlist",
                      "Each bar is one watchlist at 100%; the negative part is its negative share.", POSTS,
                      "histogram", _xy_params("histogram", "stacked", percentage=True, horizontal=True),
                      [_count(), _terms("2", "segment", "watchlists", 20, "watchlist"),
                       _terms("3", "group", "enrichment.sentiment", 5, "sentiment", missing="not enriched")]),
        visualization("crisiswatch-top-categories", "Top complaint categories",
                      "Complaint categories of negative posts.", POSTS, "pie", _pie(),
                      [_count(), _terms("2", "segment", "enrichment.category", 10, "category")],
                      query="enrichment.sentiment : negative"),
        visualization("crisiswatch-emotion-mix", "Emotion mix", "Share of each emotion among enriched posts.",
                      POSTS, "pie", _pie(), [_count(), _terms("2", "segment", "enrichment.emotion", 10, "emotion")]),
        visualization("crisiswatch-top-authors-by-reach", "Top authors by reach",
                      "Authors with the largest audience, with their post count and engagement.", POSTS, "table",
                      {"perPage": 10, "showPartialRows": False, "showMetricsAtAllLevels": False,
                       "showTotal": False, "totalFunc": "sum", "percentageCol": ""},
                      [{"id": "1", "enabled": True, "type": "max", "schema": "metric",
                        "params": {"field": "reach", "customLabel": "reach (followers)"}},
                       {"id": "3", "enabled": True, "type": "count", "schema": "metric", "params": {}},
                       {"id": "4", "enabled": True, "type": "sum", "schema": "metric",
                        "params": {"field": "engagement_total", "customLabel": "engagement"}},
                       _terms("2", "bucket", "author.handle", 20, "author")]),
        visualization("crisiswatch-incidents-by-level", "Incidents by level over time",
                      "Incidents opened per interval, by their current level.", INCIDENTS, "histogram",
                      _xy_params("histogram", "stacked"),
                      [_count(), _date_histogram("2", "segment", "opened_at"),
                       _terms("3", "group", "level", 4, "level")]),
        visualization("crisiswatch-platform-map", "Platform map: posts per platform over time",
                      "Heat map of where the conversation happens: platforms (rows) by time (columns).", POSTS,
                      "heatmap",
                      {"type": "heatmap", "addTooltip": True, "addLegend": True, "enableHover": False,
                       "legendPosition": "right", "times": [], "colorsNumber": 5, "colorSchema": "Reds",
                       "setColorRange": False, "colorsRange": [], "invertColors": False, "percentageMode": False,
                       "valueAxes": [{"show": False, "id": "ValueAxis-1", "type": "value",
                                      "scale": {"type": "linear", "defaultYExtents": False},
                                      "labels": {"show": False, "rotate": 0, "overwriteColor": False,
                                                 "color": "black"}}]},
                      [_count(), _date_histogram("2", "segment", "created_at"),
                       _terms("3", "group", "source", 15, "platform")]),
    ]
    layout = [  # (object, x, y, w, h)
        (visualizations[0], 0, 0, 32, 14), (visualizations[1], 32, 0, 16, 14),
        (visualizations[2], 0, 14, 16, 13), (visualizations[3], 16, 14, 16, 13),
        (visualizations[4], 32, 14, 16, 13), (visualizations[5], 0, 27, 24, 13),
        (visualizations[6], 24, 27, 24, 13), (searches[0], 0, 40, 48, 16),
    ]
    panels, references = [], []
    for index, (obj, x, y, w, h) in enumerate(layout):
        panels.append({"version": VERSION, "type": obj["type"], "gridData": {"x": x, "y": y, "w": w, "h": h,
                                                                            "i": str(index + 1)},
                       "panelIndex": str(index + 1), "embeddableConfig": {}, "panelRefName": f"panel_{index}"})
        references.append({"name": f"panel_{index}", "type": obj["type"], "id": obj["id"]})
    dashboard = {
        "id": "crisiswatch-crisis-overview", "type": "dashboard",
        "attributes": {
            "title": "Crisis overview",
            "description": "Volume and sentiment, negative share per watchlist, complaint categories, emotions, "
                           "influential authors, incidents by level and platforms: the first screen in a crisis.",
            "panelsJSON": json.dumps(panels), "timeRestore": True, "timeFrom": "now-24h", "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": True, "hidePanelTitles": False}),
            "version": 1, "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(
                {"query": {"query": "", "language": "kuery"}, "filter": []})},
        },
        "references": references, "migrationVersion": {"dashboard": VERSION}, "coreMigrationVersion": VERSION,
    }
    return [*views, *searches, *visualizations, dashboard]


def render() -> str:
    return "".join(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n" for obj in objects())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(objects())} objects)")
