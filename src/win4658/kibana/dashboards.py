"""Kibana saved objects (data views, saved searches, aggregation-based visualizations, dashboards) generated from
dashboards/win4658.yml, one NDJSON line each, as `POST /api/saved_objects/_import` takes them.

The objects are written in the Kibana 7.10 format with their `migrationVersion`, so that every Kibana from 7.10 on
migrates them to its own format on import; ids are fixed, so an import overwrites the earlier one.
"""

import json
import os
from typing import Any, Dict, Iterator, List

import yaml

from ..detections.fields import WINDOWS_FIELD, FieldNames

SOURCE = "dashboards/win4658.yml"
DASHBOARDS_FILE = "dashboards/generated/kibana_dashboards.ndjson"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
MIGRATION_VERSIONS = {"index-pattern": "7.6.0", "search": "7.9.3", "visualization": "7.10.0", "dashboard": "7.9.3"}
PANEL_WIDTH = 24  # half of Kibana's 48-column grid
PANEL_HEIGHT = 15


def load_source(root: str, ecs: FieldNames) -> Dict[str, Any]:
    """The saved objects of the checkout at root, every field of the Windows event under its ECS name."""
    with open(os.path.join(root, SOURCE), encoding="utf-8") as stream:
        return _with_ecs_names(yaml.safe_load(stream), ecs)


def _with_ecs_names(node: Any, ecs: FieldNames) -> Any:
    if isinstance(node, dict):
        return {key: _with_ecs_names(value, ecs) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_ecs_names(value, ecs) for value in node]
    if isinstance(node, str):
        return WINDOWS_FIELD.sub(lambda match: ecs.transformed(match[2], match[1]) if match[1] else ecs(match[2]), node)
    return node


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _search_source(query: str) -> Dict[str, str]:
    return {
        "searchSourceJSON": _text(
            {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
        )
    }


def _object(kind: str, object_id: str, attributes: Dict[str, Any], references: List[Dict[str, str]]) -> Dict[str, Any]:
    return {
        "id": object_id,
        "type": kind,
        "attributes": attributes,
        "references": references,
        "migrationVersion": {kind: MIGRATION_VERSIONS[kind]},
    }


def _data_view_ref(spec: Dict[str, Any]) -> List[Dict[str, str]]:
    return [{"name": INDEX_REF, "type": "index-pattern", "id": spec["data_view"]}]


def data_view(spec: Dict[str, Any]) -> Dict[str, Any]:
    attributes = {"title": spec["title"], "timeFieldName": "@timestamp", "name": spec["name"]}
    if "formats" in spec:
        attributes["fieldFormatMap"] = _text(spec["formats"])
    return _object("index-pattern", spec["id"], attributes, [])


def saved_search(spec: Dict[str, Any]) -> Dict[str, Any]:
    attributes = {
        "title": spec["title"],
        "description": "",
        "columns": spec["columns"],
        "sort": spec.get("sort", [["@timestamp", "desc"]]),
        "kibanaSavedObjectMeta": _search_source(spec["query"]),
    }
    return _object("search", spec["id"], attributes, _data_view_ref(spec))


def _terms(agg_id: str, field: str, schema: str, order_by: str = "1") -> Dict[str, Any]:
    return {
        "id": agg_id,
        "enabled": True,
        "type": "terms",
        "schema": schema,
        "params": {
            "field": field,
            "orderBy": order_by,
            "order": "desc",
            "size": 10,
            "otherBucket": False,
            "missingBucket": False,
        },
    }


def _metrics(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    aggs = [{"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}]
    for number, metric in enumerate(spec.get("metrics", []), 2):
        params: Dict[str, Any] = {"field": metric["field"], "customLabel": metric["label"]}
        if metric["type"] == "top_hits":
            params.update(aggregate="concat", size=1, sortField="@timestamp", sortOrder="desc")
        aggs.append({"id": str(number), "enabled": True, "type": metric["type"], "schema": "metric", "params": params})
    return aggs


def _histogram(spec: Dict[str, Any]) -> Dict[str, Any]:
    aggs = _metrics(spec) + [
        {
            "id": "10",
            "enabled": True,
            "type": "date_histogram",
            "schema": "segment",
            "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1, "extended_bounds": {}},
        },
        _terms("11", spec["split"], "group"),
    ]
    params = {
        "type": "histogram",
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "bottom",
                "show": True,
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": True, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "left",
                "show": True,
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": "Count"},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": "histogram",
                "mode": "stacked",
                "data": {"label": "Count", "id": "1"},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "showCircles": True,
            }
        ],
    }
    return {"type": "histogram", "params": params, "aggs": aggs}


def _ranges(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Bars over ranges of a number (a duration histogram) instead of over time."""
    ranges = {
        "id": "10",
        "enabled": True,
        "type": "range",
        "schema": "segment",
        "params": {"field": spec["field"], "ranges": spec["ranges"]},
    }
    chart = _histogram(spec)
    chart["aggs"] = [ranges if agg["type"] == "date_histogram" else agg for agg in chart["aggs"]]
    return chart


def _order_by(spec: Dict[str, Any]) -> str:
    """The id of the metric whose label `order_by` names (metrics are numbered from 2), else the count's."""
    labels = [metric["label"] for metric in spec.get("metrics", [])]
    return str(labels.index(spec["order_by"]) + 2) if "order_by" in spec else "1"


def _table(spec: Dict[str, Any]) -> Dict[str, Any]:
    aggs = _metrics(spec) + [
        _terms(str(10 + number), field, "bucket", _order_by(spec)) for number, field in enumerate(spec["rows"])
    ]
    params = {
        "perPage": 10,
        "showPartialRows": False,
        "showMetricsAtAllLevels": False,
        "showTotal": False,
        "totalFunc": "sum",
        "percentageCol": "",
    }
    return {"type": "table", "params": params, "aggs": aggs}


CHARTS = {"histogram": _histogram, "ranges": _ranges, "table": _table}


def visualization(spec: Dict[str, Any]) -> Dict[str, Any]:
    state = dict(CHARTS[spec["chart"]](spec), title=spec["title"])
    attributes = {
        "title": spec["title"],
        "description": spec.get("description", ""),
        "version": 1,
        "visState": _text(state),
        "uiStateJSON": "{}",
        "kibanaSavedObjectMeta": _search_source(spec["query"]),
    }
    return _object("visualization", spec["id"], attributes, _data_view_ref(spec))


def dashboard(spec: Dict[str, Any], kinds: Dict[str, str]) -> Dict[str, Any]:
    panels, references = [], []
    for number, panel_id in enumerate(spec["panels"]):
        grid = {
            "x": (number % 2) * PANEL_WIDTH,
            "y": (number // 2) * PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "h": PANEL_HEIGHT,
            "i": str(number + 1),
        }
        panels.append(
            {
                "version": "7.10.0",
                "gridData": grid,
                "panelIndex": str(number + 1),
                "embeddableConfig": {},
                "panelRefName": f"panel_{number}",
            }
        )
        references.append({"name": f"panel_{number}", "type": kinds[panel_id], "id": panel_id})
    attributes = {
        "title": spec["title"],
        "description": spec["description"],
        "version": 1,
        "timeRestore": False,
        "panelsJSON": _text(panels),
        "optionsJSON": _text({"useMargins": True, "hidePanelTitles": False}),
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": _text({"query": {"query": "", "language": "kuery"}, "filter": []})
        },
    }
    return _object("dashboard", spec["id"], attributes, references)


def _renamed(spec: Dict[str, Any], names: Dict[str, str]) -> Dict[str, Any]:
    def name(field: str) -> str:
        if field not in names:
            raise LookupError(f"{SOURCE}: {spec['id']}: no field {field!r} in the names of its data view")
        return names[field]

    renamed = dict(spec)
    renamed.update((key, name(spec[key])) for key in ("split", "field") if key in spec)
    renamed.update((key, [name(field) for field in spec[key]]) for key in ("columns", "rows") if key in spec)
    if "metrics" in spec:
        renamed["metrics"] = [dict(metric, field=name(metric["field"])) for metric in spec["metrics"]]
    if "sort" in spec:
        renamed["sort"] = [[name(field), order] for field, order in spec["sort"]]
    if "formats" in spec:
        renamed["formats"] = {name(field): form for field, form in spec["formats"].items()}
    return renamed


def with_field_names(source: Dict[str, Any], vocabularies: Dict[str, Dict[str, str]]) -> Dict[str, Any]:
    """The source with the fields of every data view that declares ``fields: VOCABULARY``, and of the panels reading
    it, renamed by ``vocabularies[VOCABULARY]`` (the session panels name fields as mappings/session.yml does)."""
    names = {spec["id"]: vocabularies[spec["fields"]] for spec in source["data_views"] if "fields" in spec}
    renamed = dict(
        source,
        data_views=[
            _renamed(spec, names[spec["id"]]) if spec["id"] in names else spec for spec in source["data_views"]
        ],
    )
    for kind in ("searches", "visualizations"):
        renamed[kind] = [
            _renamed(spec, names[spec["data_view"]]) if spec["data_view"] in names else spec for spec in source[kind]
        ]
    return renamed


def saved_objects(source: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    """Every object, each after the objects it references (Kibana resolves references within one import)."""
    yield from map(data_view, source["data_views"])
    yield from map(saved_search, source["searches"])
    yield from map(visualization, source["visualizations"])
    kinds = dict(
        {spec["id"]: "search" for spec in source["searches"]},
        **{spec["id"]: "visualization" for spec in source["visualizations"]},
    )
    for spec in source["dashboards"]:
        yield dashboard(spec, kinds)


def dashboards_ndjson(source: Dict[str, Any]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n" for item in saved_objects(source))
