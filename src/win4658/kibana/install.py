"""`win4658 kibana rules|dashboards install|uninstall`: the generated NDJSON through Kibana's import APIs.

Rules: ``POST /api/detection_engine/rules/_import?overwrite=true`` (their rule_ids stay, so a new import replaces
the earlier one), adapted to the Kibana version (``GET /api/status``): a Kibana that refuses unknown rule fields gets
the rules without the fields it predates, and a Kibana before 7.12 gets no EQL rule at all (its Elasticsearch, of the
same version, rejects the EQL the rules are written in). Dashboards: ``POST /api/saved_objects/_import?overwrite=true``
(fixed ids, references between them resolved by Kibana). Each answer is read item by item: what failed is reported
with its id, never dropped.
"""

import json
import os
from typing import Any, List, NamedTuple, Optional, Tuple
from urllib.parse import quote

from .client import Kibana, KibanaError

RULES_IMPORT = "/api/detection_engine/rules/_import?overwrite=true"
OBJECTS_IMPORT = "/api/saved_objects/_import?overwrite=true"
STATUS = "/api/status"
# rule fields and the first Kibana whose rule import accepts them (older ones refuse the rule: "invalid keys")
RULE_FIELDS_SINCE = {"tiebreaker_field": (8, 3), "investigation_fields": (8, 11)}
# `regex~` and `:` with a list of patterns, which the EQL rules use: Elasticsearch 7.12, hence Kibana 7.12
EQL_RULES_SINCE = (7, 12)


class Imported(NamedTuple):
    total: int  # items in the file
    succeeded: int
    errors: List[str]  # one line per item Kibana did not import


def ndjson_items(path: str) -> List[dict]:
    try:
        with open(path, encoding="utf-8") as stream:
            lines = [line for line in stream if line.strip()]
    except OSError as error:
        raise KibanaError(f"cannot read {path}: {error.strerror} (run `win4658 generate`)") from None
    try:
        return [json.loads(line) for line in lines]
    except ValueError as error:
        raise KibanaError(f"{path}: invalid NDJSON: {error}") from None


def _read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def kibana_version(kibana: Kibana) -> Optional[Tuple[int, int]]:
    """(major, minor) of ``GET /api/status``, or None when Kibana does not say (a user not allowed to read it)."""
    try:
        answer = kibana.request("GET", STATUS)
    except KibanaError as error:
        if error.status in (401, 403, 404):
            return None
        raise
    number = answer.get("version", {}).get("number") if isinstance(answer, dict) else None
    try:
        major, minor = str(number).split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        raise KibanaError(f"Kibana's answer to GET {STATUS} has no version.number: is the URL Kibana's?") from None


def rules_for(version: Optional[Tuple[int, int]], items: List[dict]) -> List[dict]:
    """The rules as the Kibana of ``version`` imports them (unchanged when the version is unknown)."""
    if version is None:
        return items
    shown = ".".join(map(str, version))
    if version < EQL_RULES_SINCE and any(item.get("type") == "eql" for item in items):
        raise KibanaError(
            f"Kibana {shown} cannot run these EQL rules: they need Elasticsearch and Kibana "
            f"{'.'.join(map(str, EQL_RULES_SINCE))} or later (`regex~` and `:` with a list)"
        )
    dropped = [field for field, since in RULE_FIELDS_SINCE.items() if version < since]
    return [{key: value for key, value in item.items() if key not in dropped} for item in items]


def import_rules(kibana: Kibana, path: str) -> Imported:
    items = rules_for(kibana_version(kibana), ndjson_items(path))
    content = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items).encode("utf-8")
    answer = _expect_dict(kibana.upload(RULES_IMPORT, os.path.basename(path), content), "success_count")
    errors = [f"rule {item.get('rule_id', '?')}: {_message(item.get('error'))}" for item in answer.get("errors", [])]
    return Imported(len(items), answer["success_count"], errors)


def import_saved_objects(kibana: Kibana, path: str) -> Imported:
    count = len(ndjson_items(path))
    answer = _expect_dict(kibana.upload(OBJECTS_IMPORT, os.path.basename(path), _read(path)), "success")
    errors = [
        f"{item.get('type', '?')} {item.get('id', '?')}: {_message(item.get('error'))}"
        for item in answer.get("errors", [])
    ]
    return Imported(count, answer.get("successCount", 0), errors)


def delete_rules(kibana: Kibana, path: str) -> List[str]:
    """Delete the rules of the file; return the rule_ids that existed."""
    return _delete_each(
        kibana,
        [
            f"/api/detection_engine/rules?rule_id={quote(item['rule_id'], safe='')}"
            for item in ndjson_items(path)
            if "rule_id" in item
        ],
    )


def delete_saved_objects(kibana: Kibana, path: str) -> List[str]:
    return _delete_each(
        kibana,
        [
            f"/api/saved_objects/{quote(item['type'], safe='')}/{quote(item['id'], safe='')}"
            for item in ndjson_items(path)
            if "type" in item and "id" in item
        ],
    )


def _delete_each(kibana: Kibana, paths: List[str]) -> List[str]:
    deleted = []
    for path in paths:
        try:
            kibana.request("DELETE", path)
            deleted.append(path)
        except KibanaError as error:
            if error.status != 404:
                raise
    return deleted


def _expect_dict(answer: Any, key: str) -> dict:
    if not isinstance(answer, dict) or key not in answer:
        raise KibanaError(f"Kibana's import answer has no {key}: is the URL Kibana's?")
    return answer


def _message(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)
    return str(error)
