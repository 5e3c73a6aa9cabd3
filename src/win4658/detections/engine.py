"""The local engine for the per-event detections (1–4): does this 4658 deserve a finding?

Each detection's condition becomes a verdict over the event's values of the fields the conditions read: it says why
the event is flagged, or None. Verdicts are cached per values (host, path): real logs repeat a few hundred paths
millions of times.
"""

import re
from functools import lru_cache
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from ..event import Event, Origin
from ..mapping import ABSENT_VALUES as ABSENT
from ..times import format_ns
from .definitions import Condition, Detection, DetectionList
from .fields import section_and_name
from .paths import PathPatterns, wildcard_regex

CACHE_SIZE = 8192


class Finding(NamedTuple):
    """One hit of one detection, with the evidence an analyst needs."""

    detection: str
    number: int
    time: Optional[str]
    host: Optional[str]
    user: Optional[str]
    process: Optional[str]
    process_id: Optional[str]
    handle_id: Optional[str]
    reason: str
    origin: Optional[Origin]
    details: Optional[dict] = None

    def as_dict(self) -> dict:
        document = dict(zip(SHOWN_FIELDS, self))
        if self.origin is not None:
            document["source"] = str(self.origin)
        if self.details:
            document.update(self.details)
        return {name: value for name, value in document.items() if value is not None}


new_finding = tuple.__new__
SHOWN_FIELDS = Finding._fields[: Finding._fields.index("origin")]  # as_dict shows origin and details its own way


def event_user(event: Event) -> Optional[str]:
    name = event.data.get("SubjectUserName")
    if name in ABSENT or name is None:
        return None
    domain = event.data.get("SubjectDomainName")
    return f"{domain}\\{name}" if domain and domain not in ABSENT else name


def event_process(event: Event) -> Optional[str]:
    path = event.data.get("ProcessName")
    return None if path is None or path in ABSENT else path


def findings_for(hits: Tuple[Tuple[Detection, str], ...], event: Event, time: Optional[str]) -> List[Finding]:
    """One Finding per (detection, reason) of one event, its fields read once."""
    data = event.data
    shown = (
        time,
        event.system.get("Computer"),
        event_user(event),
        event_process(event),
        data.get("ProcessId"),
        data.get("HandleId"),
    )
    # tuple.__new__: the same Finding as Finding(…), without its Python-level __new__ (one per finding)
    return [
        new_finding(Finding, (detection.id, detection.number, *shown, reason, event.origin, None))
        for detection, reason in hits
    ]


# The local backend's token table: operator → (list) → match(value, by value) → the row matched, or None
Match = Callable[[str, str], Optional[str]]


def _path_in(rows: DetectionList) -> Match:
    patterns = PathPatterns(rows.compared)
    return lambda value, by: patterns.match(value)


def _contains_any(rows: DetectionList) -> Match:
    substrings = [substring.lower() for substring in rows.compared]

    def match(value: str, by: str) -> Optional[str]:
        lowered = value.lower()
        return next((substring for substring in substrings if substring in lowered), None)

    return match


def _path_in_for_host(rows: DetectionList) -> Match:
    allowed = [
        (re.compile(wildcard_regex(host), re.IGNORECASE), PathPatterns([path]), path)
        for host, path in zip(rows.column(rows.columns[0]), rows.compared)
    ]

    def match(value: str, by: str) -> Optional[str]:
        return next(
            (path for host_regex, patterns, path in allowed if host_regex.fullmatch(by) and patterns.match(value)), None
        )

    return match


OPERATORS: Dict[str, Callable[[DetectionList], Match]] = {
    "path_in": _path_in,
    "contains_any": _contains_any,
    "path_in_for_host": _path_in_for_host,
}

# verdict(values) → why the event is a finding, or None; values: the event's values of EventDetections.fields
Verdict = Callable[[Tuple[Optional[str], ...]], Optional[str]]


def _verdict(condition: Condition, rows: DetectionList, fields: List[str]) -> Verdict:
    match = OPERATORS[condition.operator](rows)
    at = fields.index(condition.field)
    by_at = fields.index(condition.by) if condition.by else at

    def verdict(values: Tuple[Optional[str], ...]) -> Optional[str]:
        value = values[at]
        if value is None or value in ABSENT:
            return None
        matched = match(value, values[by_at] or "")
        if condition.negate:
            return condition.reason if matched is None else None
        return condition.reason.format(match=matched) if matched is not None else None

    return verdict


Sections = Tuple[Dict[str, Any], Dict[str, Any]]  # an event's (system, data)


def values_reader(places: List[Tuple[int, str]]) -> Callable[[Sections], Tuple[Optional[str], ...]]:
    """(system, data) → the values at ``places`` ((0 for System or 1 for EventData, name) each). One or two fields,
    what the shipped detections read, without a loop: the values are read for every event."""
    if len(places) == 1:
        ((at, name),) = places
        return lambda sections: (sections[at].get(name),)
    if len(places) == 2:
        (first_at, first), (second_at, second) = places
        return lambda sections: (sections[first_at].get(first), sections[second_at].get(second))
    return lambda sections: tuple([sections[at].get(name) for at, name in places])


class EventDetections:
    """The per-event detections of a run: ``findings(event, time)`` lists what the event triggers.

    ``lists`` replaces a detection's shipped list by its name (a user's edited copy).
    """

    def __init__(self, detections: List[Detection], lists: Optional[Dict[str, DetectionList]] = None):
        lists = lists or {}
        conditional = [
            (detection, *detection.condition_and_list()) for detection in detections if detection.kind is None
        ]
        self.fields = list(
            dict.fromkeys(
                field
                for _detection, condition, _rows in conditional
                for field in (condition.field, condition.by)
                if field
            )
        )
        self.verdicts = [
            (detection, _verdict(condition, lists.get(rows.name, rows), self.fields))
            for detection, condition, rows in conditional
        ]
        self.event_ids = frozenset().union(*(detection.event_ids for detection, _verdict in self.verdicts))
        self.values = values_reader(
            [(0 if section == "System" else 1, name) for section, name in map(section_and_name, self.fields)]
        )
        self.reasons = lru_cache(maxsize=CACHE_SIZE)(self._reasons)

    def _reasons(self, event_id: int, values: Tuple[Optional[str], ...]) -> Tuple[Tuple[Detection, str], ...]:
        found = (
            (detection, verdict(values)) for detection, verdict in self.verdicts if event_id in detection.event_ids
        )
        return tuple((detection, reason) for detection, reason in found if reason is not None)

    def findings(self, event: Event, time: Optional[int]) -> List[Finding]:
        event_id = event.system["EventID"]
        if event_id not in self.event_ids:
            return []
        hits = self.reasons(event_id, self.values((event.system, event.data)))
        if not hits:
            return []
        return findings_for(hits, event, format_ns(time) or event.system.get("TimeCreated"))
