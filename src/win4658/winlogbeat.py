"""The document Winlogbeat 8 / Elastic Agent would send for an event: the ingest pipeline's input."""
from typing import Any, Dict

from .event import Event
from .mapping import bundled, hex_to_int


def to_winlogbeat(event: Event) -> Dict[str, Any]:
    tables = bundled("ecs").tables
    system = event.system
    task = _rendered(tables["task_names"], system.get("Task"))
    keywords = system.get("Keywords")
    winlog: Dict[str, Any] = {
        "api": "wineventlog",
        "channel": system.get("Channel"),
        "computer_name": system.get("Computer"),
        "event_id": str(event.event_id),
        "provider_name": system.get("Provider"),
        "provider_guid": system.get("ProviderGuid"),
        "record_id": _number(system.get("EventRecordID")),
        "task": task,
        "opcode": _rendered(tables["opcode_names"], system.get("Opcode")),
        "keywords": keywords if isinstance(keywords, list) else _keyword_names(tables["keywords_names"], keywords),
        "process": _execution(system),
        "event_data": dict(event.data),
    }
    document = {
        "@timestamp": system.get("TimeCreated"),
        "host": {"name": system.get("Computer")},
        "agent": {"type": "winlogbeat"},
        "log": {"level": "information"},
        "event": {"code": str(event.event_id), "kind": "event", "provider": system.get("Provider"), "action": task},
        "winlog": {key: value for key, value in winlog.items() if value not in (None, [], {})},
    }
    return document


def _rendered(table: dict, value: Any) -> Any:
    if value is None:
        return None
    return next((name for key, name in table.items() if str(key) == str(value)), value)


def _keyword_names(table: dict, keywords: Any) -> Any:
    name = _rendered(table, keywords)
    return None if name is None else [name]


def _number(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _execution(system: dict) -> Dict[str, Any]:
    process: Dict[str, Any] = {}
    if system.get("ProcessID") is not None:
        process["pid"] = hex_to_int(system["ProcessID"])
    if system.get("ThreadID") is not None:
        process["thread"] = {"id": hex_to_int(system["ThreadID"])}
    return process
