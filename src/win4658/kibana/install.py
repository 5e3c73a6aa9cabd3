"""`win4658 kibana rules|dashboards install|uninstall`: the generated NDJSON through Kibana's import APIs.

Rules: ``POST /api/detection_engine/rules/_import?overwrite=true`` (their rule_ids stay, so a new import replaces
the earlier one). Dashboards: ``POST /api/saved_objects/_import?overwrite=true`` (fixed ids, references between them
resolved by Kibana). Each answer is read item by item: what failed is reported with its id, never dropped.
"""
import json
import os
from typing import Any, List, NamedTuple
from urllib.parse import quote

from .client import Kibana, KibanaError

RULES_IMPORT = "/api/detection_engine/rules/_import?overwrite=true"
OBJECTS_IMPORT = "/api/saved_objects/_import?overwrite=true"


class Imported(NamedTuple):
    count: int  # type: ignore[assignment]  # items in the file
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


def import_rules(kibana: Kibana, path: str) -> Imported:
    count = len(ndjson_items(path))
    answer = _expect_dict(kibana.upload(RULES_IMPORT, os.path.basename(path), _read(path)), "success_count")
    errors = [f"rule {item.get('rule_id', '?')}: {_message(item.get('error'))}" for item in answer.get("errors", [])]
    return Imported(count, answer["success_count"], errors)


def import_saved_objects(kibana: Kibana, path: str) -> Imported:
    count = len(ndjson_items(path))
    answer = _expect_dict(kibana.upload(OBJECTS_IMPORT, os.path.basename(path), _read(path)), "success")
    errors = [f"{item.get('type', '?')} {item.get('id', '?')}: {_message(item.get('error'))}"
              for item in answer.get("errors", [])]
    return Imported(count, answer.get("successCount", 0), errors)


def delete_rules(kibana: Kibana, path: str) -> List[str]:
    """Delete the rules of the file; return the rule_ids that existed."""
    return _delete_each(kibana, [f"/api/detection_engine/rules?rule_id={quote(item['rule_id'], safe='')}"
                                 for item in ndjson_items(path) if "rule_id" in item])


def delete_saved_objects(kibana: Kibana, path: str) -> List[str]:
    return _delete_each(kibana, [f"/api/saved_objects/{quote(item['type'], safe='')}/{quote(item['id'], safe='')}"
                                 for item in ndjson_items(path) if "type" in item and "id" in item])


def _delete_each(kibana: Kibana, paths: List[str]) -> List[str]:
    deleted = []
    for path in paths:
        try:
            kibana.request("DELETE", path)
            deleted.append(path)
        except KibanaError as error:
            if "HTTP 404" not in str(error):
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
