"""The document Winlogbeat 8 / Elastic Agent would send for an event: the ingest pipeline's input.

``SYSTEM_PATHS`` (the Windows event layer's, mappings/windows.yml) says where each System field travels in that
document; the pipeline generator reads the same table to know where the mapping's sources arrive.
"""

from functools import partial
from typing import Any, Callable, Dict, List

from .event import Event
from .windows import WINLOGBEAT_EVENT_DATA_PATH as EVENT_DATA_PATH  # noqa: F401 - re-exported, the template reads it
from .windows import WINLOGBEAT_FALLBACK_PATHS as FALLBACK_PATHS  # noqa: F401 - re-exported
from .windows import WINLOGBEAT_PATHS as SYSTEM_PATHS
from .windows import hex_to_int, name_tables


def to_winlogbeat(event: Event) -> Dict[str, Any]:
    render = _renderers(name_tables())
    system = dict(event.system, EventID=event.event_id)
    task = render["Task"](system["Task"]) if system.get("Task") is not None else None
    document: Dict[str, Any] = {
        "@timestamp": None,
        "host": {"name": system.get("Computer")},
        "agent": {"type": "winlogbeat"},
        "log": {"level": "information"},
        "event": {"code": str(event.event_id), "kind": "event", "provider": system.get("Provider"), "action": task},
        "winlog": {"api": "wineventlog"},
    }
    for field, path in SYSTEM_PATHS.items():
        value = system.get(field)
        if value is not None:
            _put(document, path, render.get(field, _same)(value))
    document["winlog"]["event_data"] = dict(event.data)
    return _without_empty(document)


def _renderers(tables: dict) -> Dict[str, Callable[[Any], Any]]:
    """How Winlogbeat writes each System field: task, opcode and keywords rendered, numbers as numbers."""
    return {
        "EventID": str,
        "EventRecordID": _number,
        "Task": partial(_rendered, tables["task_names"]),
        "Opcode": partial(_rendered, tables["opcode_names"]),
        "Keywords": partial(_rendered_list, tables["keywords_names"]),
        "ProcessID": _number,
        "ThreadID": _number,
    }


def _same(value: Any) -> Any:
    return value


def _rendered(table: dict, value: Any) -> Any:
    return next((name for key, name in table.items() if str(key) == str(value)), value)


def _rendered_list(table: dict, values: Any) -> List[Any]:
    return values if isinstance(values, list) else [_rendered(table, values)]


def _number(value: Any) -> Any:
    """A number as Winlogbeat sends it (decimal or "0x…" text read as one); anything else as it came."""
    try:
        return hex_to_int(value)
    except (TypeError, ValueError):
        return value


def _put(document: Dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _without_empty(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    kept = {key: _without_empty(value) for key, value in node.items()}
    return {key: value for key, value in kept.items() if value not in (None, [], {})}
