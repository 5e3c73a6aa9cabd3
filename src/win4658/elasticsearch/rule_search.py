"""`win4658 es hunt`: run the detections' Kibana rules (detections/generated/kibana_rules.ndjson) on a cluster.

Each rule type has its API: EQL → ``_eql/search``, KQL/Lucene → ``_search`` with ``query_string`` (KQL translated),
ES|QL → ``_query``, threshold → ``_search`` with a composite aggregation over the threshold fields. Rules run over
all time: a hunt looks at whatever was shipped, not at the rule's schedule window.
"""

import json
import re
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple
from urllib.parse import quote

from elasticsearch import ApiError

from ..detections.definitions import load_bundle
from ..detections.fields import installed
from ..detections.kibana import rules_ndjson
from .client import Cluster, Server, ServerAnswerError, request
from .simulate import error_text

RULE_TYPES = ("eql", "query", "esql", "threshold")


class HuntError(ValueError):
    """The rules file is missing or a rule cannot be run."""


class HuntResult(NamedTuple):
    rule: Dict[str, Any]
    hits: int
    samples: List[Dict[str, Any]]  # up to max_samples hit documents (or ES|QL rows, threshold buckets)
    error: Optional[str] = None


def load_rules(path: Optional[str] = None, name: Optional[str] = None) -> List[Dict[str, Any]]:
    """The rules of a Kibana NDJSON export (default: those generated from the installed package's detections,
    which detections/generated/kibana_rules.ndjson holds), optionally only those whose rule_id or name contains
    ``name``."""
    if path is None:
        path, text = "the installed detections", rules_ndjson(load_bundle(), installed("ecs"))
    else:
        text = _read_rules(path)
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as error:
            raise HuntError(f"{path}: line {number}: invalid JSON: {error}") from None
        if isinstance(item, dict) and item.get("type") in RULE_TYPES and "rule_id" in item:
            rules.append(item)  # exception lists and export summaries are not rules
    wanted = (name or "").lower()
    return [rule for rule in rules if wanted in rule["rule_id"].lower() or wanted in rule.get("name", "").lower()]


def _read_rules(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except OSError as error:
        raise HuntError(f"cannot read the Kibana rules {path}: {error.strerror}") from None


def hunt(
    client: Cluster, rules: Sequence[Dict[str, Any]], index: Optional[Sequence[str]] = None, max_samples: int = 10
) -> Iterator[HuntResult]:
    """Run each rule, against its own index patterns or ``index``; a rule the cluster refuses yields its error
    (an unreachable cluster raises: no rule could run)."""
    server = client.server_or_none()
    for rule in rules:
        indices = list(index or rule.get("index") or ["*"])
        missing = _missing_feature(server, rule["type"])
        if missing:
            yield HuntResult(rule, 0, [], missing)
            continue
        try:
            hits, samples = _RUNNERS[rule["type"]](client, rule, indices, max_samples)
        except (ApiError, HuntError, ServerAnswerError) as error:
            yield HuntResult(rule, 0, [], _api_error_text(error))
            continue
        except (KeyError, TypeError, AttributeError):
            yield HuntResult(
                rule, 0, [], f"the server's answer to the {rule['type']} search is not the one the API documents"
            )
            continue
        yield HuntResult(rule, hits, samples)


def _missing_feature(server: Optional[Server], rule_type: str) -> Optional[str]:
    """Why this server cannot run a rule of that type (None when it can, or when the version is unknown)."""
    if server is None:
        return None
    if rule_type == "eql" and not server.eql:
        return f"this rule cannot run on {server}: EQL needs Elasticsearch 7.12 or later (default distribution)"
    if rule_type == "esql" and not server.esql:
        return f"this rule cannot run on {server}: ES|QL needs Elasticsearch 8.11 or later"
    return None


def _api_error_text(error: Exception) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and "error" in body:
        return error_text(body["error"])
    return str(error)


def _index_path(indices: List[str]) -> str:
    return quote(",".join(indices), safe=",*")


def _run_eql(client: Cluster, rule: dict, indices: List[str], max_samples: int) -> Tuple[int, List[Any]]:
    body = {"query": rule["query"], "size": 10000}
    if "tiebreaker_field" in rule:  # equal times in the log's order, as the rule runs in Kibana
        body["tiebreaker_field"] = rule["tiebreaker_field"]
    # a rule's pattern that matches no index (winlogbeat-* where only Agent ships) is no error, as in _search;
    # explicit because EQL's default was false in its first releases
    hits = request(client, "POST", f"/{_index_path(indices)}/_eql/search?allow_no_indices=true", body)["hits"]
    found = hits.get("sequences") or hits.get("events") or []
    total = hits.get("total", {}).get("value", len(found))
    samples = [item.get("_source", item) for item in found[:max_samples]]
    return total, samples


def _search_query(rule: dict) -> Dict[str, Any]:
    text = rule["query"]
    query_string = kql_to_query_string(text) if rule.get("language", "kuery") == "kuery" else text
    must: List[Dict[str, Any]] = (
        [{"query_string": {"query": query_string, "analyze_wildcard": True, "allow_leading_wildcard": True}}]
        if text.strip()
        else []
    )
    must_not: List[Dict[str, Any]] = []
    for kibana_filter in rule.get("filters", []):
        meta = kibana_filter.get("meta", {})
        if isinstance(kibana_filter.get("query"), dict) and not meta.get("disabled"):
            (must_not if meta.get("negate") else must).append(kibana_filter["query"])
    return {"bool": {"filter": must, "must_not": must_not}}


def _run_query(client: Cluster, rule: dict, indices: List[str], max_samples: int) -> Tuple[int, List[Any]]:
    body = {
        "query": _search_query(rule),
        "size": max_samples,
        "track_total_hits": True,
        "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
    }
    hits = request(client, "POST", f"/{_index_path(indices)}/_search", body)["hits"]
    return hits["total"]["value"], [hit["_source"] for hit in hits["hits"]]


def _run_threshold(client: Cluster, rule: dict, indices: List[str], max_samples: int) -> Tuple[int, List[Any]]:
    threshold = rule["threshold"]
    fields = [threshold["field"]] if isinstance(threshold["field"], str) else list(threshold["field"])
    if not fields:
        total, samples = _run_query(client, rule, indices, max_samples)
        return (1, [{"count": total}]) if total >= threshold["value"] else (0, [])
    cardinality = (threshold.get("cardinality") or [None])[0]
    buckets_agg: Dict[str, Any] = {
        "composite": {"size": 10000, "sources": [{field: {"terms": {"field": field}}} for field in fields]}
    }
    if cardinality:
        buckets_agg["aggs"] = {"distinct": {"cardinality": {"field": cardinality["field"]}}}
    body = {"query": _search_query(rule), "size": 0, "aggs": {"groups": buckets_agg}}
    buckets = request(client, "POST", f"/{_index_path(indices)}/_search", body)["aggregations"]["groups"]["buckets"]
    matched = [
        {"key": bucket["key"], "count": bucket["doc_count"]}
        for bucket in buckets
        if bucket["doc_count"] >= threshold["value"]
        and (not cardinality or bucket["distinct"]["value"] >= cardinality["value"])
    ]
    return len(matched), matched[:max_samples]


def _run_esql(client: Cluster, rule: dict, indices: List[str], max_samples: int) -> Tuple[int, List[Any]]:
    query = rule["query"]
    if indices != list(rule.get("index") or ["*"]):
        query = re.sub(r"^\s*from\s+[^\s|]+", f"FROM {','.join(indices)}", query, count=1, flags=re.IGNORECASE)
    response = request(client, "POST", "/_query", {"query": query})
    names = [column["name"] for column in response["columns"]]
    rows = [dict(zip(names, values)) for values in response["values"]]
    return len(rows), rows[:max_samples]


_RUNNERS: Dict[str, Callable[[Cluster, dict, List[str], int], Tuple[int, List[Any]]]] = {
    "eql": _run_eql,
    "query": _run_query,
    "threshold": _run_threshold,
    "esql": _run_esql,
}

_QUOTED = re.compile(r'("(?:\\.|[^"\\])*")')
_BOOLEAN = re.compile(r"(?<![^\s(])(and|or|not)(?![^\s)])", re.IGNORECASE)
_RANGE = re.compile(r"([\w.@]+)\s*(>=|<=|>|<)\s*")
_FIELD = re.compile(r"\s*:\s*")


def kql_to_query_string(kql: str) -> str:
    """KQL → Lucene query_string: upper-case and/or/not, `field : value` → `field:value`, ranges → `field:>=n`.

    The rest of KQL (quoted phrases, wildcards, backslash escapes, grouping, `field:*`) is already Lucene syntax;
    nested-field queries (`field:{…}`) have no query_string equivalent and are refused.
    """
    parts = _QUOTED.split(kql)
    for position in range(0, len(parts), 2):  # outside quotes
        if "{" in parts[position]:
            raise HuntError("KQL nested-field queries ({…}) cannot be translated to query_string")
        text = _RANGE.sub(r"\1:\2", parts[position])
        text = _FIELD.sub(":", text)
        parts[position] = _BOOLEAN.sub(lambda match: match.group(1).upper(), text)
    return "".join(parts)
