"""The field resolver: the name each platform gives a field of the Windows event, read from the mappings.

Detections name fields as the mappings' sources do (``EventData.ProcessName``, ``System.Computer``). Sigma and the
local engine use the Windows name itself; Elastic and Splunk the target of the first rule of mappings/ecs.yml or
mappings/cim.yml that copies the field with its value unchanged, else where the mapping keeps the raw EventData
(``winlog.event_data.HandleId`` in ECS, ``HandleId`` in Splunk). Generation resolves through the mappings of the
checkout it reads (Sources.ecs_names, Sources.cim_names); commands over an installed win4658, through its own.
"""

import re
from typing import List, Optional, Tuple

from ..mapping import Mapping, bundled

# transforms that keep the field's value (only its type changes): a search on the target finds the same events
VALUE_KEEPING = frozenset({None, "to_string", "to_int", "hex_to_int"})
RAW_FIELDS = "all_fields"
# a handle, as every platform keys it: its host, process and handle value
HANDLE_KEY = ("System.Computer", "EventData.ProcessId", "EventData.HandleId")
# the fields of a finding's event an analyst looks at first, in the order the SIEMs show them
FINDING_FIELDS = (
    "System.Computer",
    "EventData.SubjectUserName",
    "EventData.ProcessName",
    "EventData.ProcessId",
    "EventData.HandleId",
)
# a field of the Windows event as the sources write it, as it is or through a transform of the mappings:
# System.EventID, basename(EventData.ProcessName)
WINDOWS_FIELD = re.compile(r"\b(?:(\w+)\()?((?:System|EventData)\.[A-Za-z]+)(?(1)\))")


def parsed(written: str) -> Tuple[Optional[str], str]:
    """A field as the sources write it → (transform or None, field): ``basename(EventData.ProcessName)`` →
    ("basename", "EventData.ProcessName")."""
    match = WINDOWS_FIELD.fullmatch(written)
    if match is None:
        raise ValueError(f"{written!r} is not a field of the Windows event (System.X, EventData.X, transform(...))")
    return match[1], match[2]


def section_and_name(field: str) -> Tuple[str, str]:
    """``EventData.ProcessName`` → ("EventData", "ProcessName")."""
    section, _, name = field.partition(".")
    return section, name


def windows_name(field: str) -> str:
    """The name in the Windows event (Sigma's and the local engine's): ``ProcessName``."""
    return section_and_name(field)[1]


class FieldNames:
    """The names one platform's documents give the Windows event's fields: ``names("EventData.ProcessName")``."""

    def __init__(self, mapping: Mapping):
        self.platform: str = mapping.spec["schema"]
        self._rules: List[dict] = [rule.spec for rule in mapping.rules]

    def __call__(self, field: str) -> str:
        """The field with its value unchanged: a search on this name finds the events the value finds."""
        target = self.own(field)
        return self.raw(field) if target is None else target

    def own(self, field: str, transform: Optional[str] = None) -> Optional[str]:
        """The first target of its own the mapping writes the field to, with its value unchanged or through
        ``transform``; None when no rule does (the raw EventData may still keep it)."""
        transforms = VALUE_KEEPING if transform is None else {transform}
        for spec in self._rules:
            if spec.get("source") == field and spec.get("transform") in transforms:
                return spec["target"]
        return None

    def of(self, written: str) -> Optional[str]:
        """``own`` of a field written as the sources write it: ``EventData.ProcessName``,
        ``basename(EventData.ProcessName)``."""
        transform, field = parsed(written)
        return self.own(field, transform)

    def raw(self, field: str) -> str:
        """Where the mapping keeps the EventData field under its Windows name (``HandleId``,
        ``winlog.event_data.HandleId``)."""
        section, name = section_and_name(field)
        for spec in self._rules:
            if spec.get("source") == section and spec.get("transform") == RAW_FIELDS:
                return f"{spec['target']}.{name}" if spec["target"] else name
        raise LookupError(f"mappings/{self.platform}.yml: no rule keeps {field}")

    def transformed(self, field: str, transform: str) -> str:
        """The first target the mapping writes from the field through ``transform`` (``basename`` → the file name,
        ``lookup`` → the looked-up value)."""
        target = self.own(field, transform)
        if target is None:
            raise LookupError(f"mappings/{self.platform}.yml: no rule writes {field} through {transform}")
        return target


def installed(platform: str) -> FieldNames:
    """The names of the installed mapping ``platform`` ("ecs" or "cim"): for commands, never for generation."""
    return FieldNames(bundled(platform))
