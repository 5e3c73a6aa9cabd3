"""The Windows event layer (mappings/windows.yml): the names Windows renders for System's Task, Opcode and Keywords,
System's elements, where each shipper puts each System field, the classic message's labels; and how Windows writes
numbers.

Readers, renderers and the Winlogbeat shape depend on this alone, not on the mappings; the mappings' lookups see the
name tables as tables (mapping.Mapping). The file is read once, at import: every reader needs its tables then, and
the JSON-lines reader builds its code from them.
"""

import os
from importlib import resources
from typing import Any, Dict, FrozenSet, Optional, Tuple

import yaml

MAPPINGS_DIR = str(resources.files("win4658") / "mappings")
WINDOWS_FILE = "windows.yml"
NAME_TABLES = ("task_names", "opcode_names", "keywords_names")
# yaml.safe_load's loader with libyaml's parser when PyYAML has it (the same documents, read about 10× faster: every
# command reads this file and a mapping at start), else PyYAML's own (the Splunk add-on's vendored copy)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_layer() -> Dict[str, Any]:
    with open(os.path.join(MAPPINGS_DIR, WINDOWS_FILE), encoding="utf-8") as stream:
        return yaml.load(stream, Loader=SAFE_LOADER)


_LAYER = _load_layer()

# System's elements in RenderXml's order, and those whose value is their text
SYSTEM_ELEMENTS: Tuple[str, ...] = tuple(_LAYER["system_elements"])
SYSTEM_TEXT_ELEMENTS: FrozenSet[str] = frozenset(_LAYER["system_text_elements"])
# element → its attributes in order: (attribute, System field or None when not read, whether it may be absent)
SYSTEM_ATTRIBUTES: Dict[str, Tuple[Tuple[str, Optional[str], bool], ...]] = {
    element: tuple(
        (name, field, name in _LAYER["optional_attributes"].get(element, ())) for name, field in attributes.items()
    )
    for element, attributes in _LAYER["system_attributes"].items()
}
# element → the attributes that hold a System field: (attribute, System field, whether it may be absent); both XML
# readers read System by it (an attribute Windows always writes is read as None when missing, one it may leave out
# as no key)
SYSTEM_FIELD_ATTRIBUTES: Dict[str, Tuple[Tuple[str, str, bool], ...]] = {
    element: tuple((attribute, field, may_be_absent) for attribute, field, may_be_absent in attributes if field)
    for element, attributes in SYSTEM_ATTRIBUTES.items()
    if any(field for _, field, _ in attributes)
}
# System fields whose value differs in every record
UNIQUE_PER_RECORD: FrozenSet[str] = frozenset(_LAYER["unique_per_record"])
# Winlogbeat 7+/8+ and Elastic Agent: System field → dotted path; the path read when that one is absent
WINLOGBEAT_PATHS: Dict[str, str] = dict(_LAYER["winlogbeat"]["system"])
WINLOGBEAT_FALLBACK_PATHS: Dict[str, str] = dict(_LAYER["winlogbeat"]["fallback"])
WINLOGBEAT_EVENT_DATA_PATH: str = _LAYER["winlogbeat"]["event_data"]
# Winlogbeat 6: System field → top-level key; the keys of the event id and of EventData
WINLOGBEAT6_KEYS: Dict[str, str] = dict(_LAYER["winlogbeat6"]["system"])
WINLOGBEAT6_EVENT_ID_KEY: str = _LAYER["winlogbeat6"]["event_id"]
WINLOGBEAT6_EVENT_DATA_KEY: str = _LAYER["winlogbeat6"]["event_data"]


def _first_and_absent(keys: Any) -> Tuple[str, Optional[str]]:
    return (keys[0], keys[1]) if isinstance(keys, list) else (keys, None)


# NXLog: (System field, key, key read when that one is absent)
NXLOG_FIELDS: Tuple[Tuple[str, str, Optional[str]], ...] = tuple(
    (field, *_first_and_absent(keys)) for field, keys in _LAYER["nxlog"]["system"].items()
)
NXLOG_OWN_KEYS: FrozenSet[str] = frozenset(_LAYER["nxlog"]["own_keys"])
NXLOG_EVENT_ID_KEY: str = _LAYER["nxlog"]["event_id"]
# The classic message: (section, label) → EventData name
CLASSIC_LABELS: Dict[Tuple[str, str], str] = {
    (section, label): name for section, labels in _LAYER["classic_labels"].items() for label, name in labels.items()
}


_NAME_TABLES = {name: _LAYER[name] for name in NAME_TABLES}


def name_tables() -> Dict[str, Dict[Any, str]]:
    """task_names, opcode_names and keywords_names: each number (as Windows writes it) → its rendered name."""
    return _NAME_TABLES


# A number written out must fit the targets' index type (ECS and Winlogbeat: long) and, as every number of the event
# is an id (process, thread, handle, event), not be negative.
LARGEST_NUMBER = (1 << 63) - 1


def hex_to_int(value: Any) -> int:
    """A number as Windows writes it: decimal, or hexadecimal after "0x"; ValueError outside 0..2^63-1."""
    if value.__class__ is int:  # not a bool
        return in_long_range(value)
    text = str(value).strip()
    return in_long_range(int(text, 16) if text[:2].lower() == "0x" else int(text))


def in_long_range(number: int) -> int:
    if not 0 <= number <= LARGEST_NUMBER:
        raise ValueError(f"{number} is outside 0..2^63-1 (a long)")
    return number
