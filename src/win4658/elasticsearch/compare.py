"""Comparing what the pipeline wrote with what `to_ecs` writes for the same event.

The pipeline keeps every field the shipper sent; the ones only a shipper adds are left out of the comparison.
"""

import copy
from typing import Any, Dict, List

from ..mapping import flatten

# Fields Winlogbeat / Elastic Agent add that have no source in the event itself.
SHIPPER_FIELDS = (
    "agent",
    "log",
    "message",
    "input",
    "data_stream",
    "elastic_agent",
    "tags",
    "event.created",
    "event.ingested",
    "event.original",
    "event.dataset",
    "event.module",
    "winlog.api",
)
# Of ``host``, only ``host.name`` comes from the event (System/Computer); the rest describes the shipper's machine.
HOST_FIELDS_KEPT = ("name",)


def without_shipper_fields(document: Dict[str, Any]) -> Dict[str, Any]:
    kept = copy.deepcopy(document)
    for path in SHIPPER_FIELDS:
        *parents, leaf = path.split(".")
        node: Any = kept
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    if isinstance(kept.get("host"), dict):
        kept["host"] = {key: value for key, value in kept["host"].items() if key in HOST_FIELDS_KEPT}
        if not kept["host"]:
            del kept["host"]
    return kept


def differences(expected: Dict[str, Any], actual: Dict[str, Any]) -> List[str]:
    """One line per field that differs: 'field: expected X, got Y'."""
    want, got = flatten(expected), flatten(actual)
    return [
        f"{field}: expected {want.get(field, '(absent)')!r}, got {got.get(field, '(absent)')!r}"
        for field in sorted(set(want) | set(got))
        if want.get(field, ...) != got.get(field, ...)
    ]
