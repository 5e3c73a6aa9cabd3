"""The local engine for the per-event detections (1–4): does this 4658 deserve a finding?

Each list kind has a verdict built from its detection's list: ``verdict(host, path)`` says why the event is
flagged, or None. Verdicts are cached per (host, path): real logs repeat a few hundred paths millions of times.
"""
import re
from functools import lru_cache
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from ..event import Event, Origin
from .definitions import Detection, DetectionList
from .paths import PathPatterns, wildcard_regex
from ..times import format_ns

from ..mapping import ABSENT_VALUES as ABSENT
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
SHOWN_FIELDS = Finding._fields[:Finding._fields.index("origin")]  # as_dict shows origin and details its own way


def event_user(event: Event) -> Optional[str]:
    name = event.data.get("SubjectUserName")
    if name in ABSENT or name is None:
        return None
    domain = event.data.get("SubjectDomainName")
    return f"{domain}\\{name}" if domain and domain not in ABSENT else name


def event_process(event: Event) -> Optional[str]:
    path = event.data.get("ProcessName")
    return None if path is None or path in ABSENT else path


def finding_for(detection: Detection, event: Event, reason: str, time: Optional[str]) -> Finding:
    data = event.data
    # tuple.__new__: the same Finding as Finding(…), without its Python-level __new__ (one per finding)
    return new_finding(Finding, (detection.id, detection.number, time, event.system.get("Computer"), event_user(event),
                                 event_process(event), data.get("ProcessId"), data.get("HandleId"), reason, event.origin, None))


Verdict = Callable[[str, str], Optional[str]]


def _allowlist(rows: DetectionList) -> Verdict:
    hosts = [re.compile(wildcard_regex(host), re.IGNORECASE) for host in rows.column("host")]
    paths = [PathPatterns([path]) for path in rows.column("process_path")]
    allowed = list(zip(hosts, paths))

    def verdict(host: str, path: str) -> Optional[str]:
        for host_regex, path_patterns in allowed:
            if host_regex.fullmatch(host) and path_patterns.match(path):
                return None
        return "not in the allow-list for this host"
    return verdict


def _standard_folders(rows: DetectionList) -> Verdict:
    standard = PathPatterns(rows.column("path_pattern"))
    return lambda host, path: None if standard.match(path) else "not under a standard folder"


def _restricted_folders(rows: DetectionList) -> Verdict:
    restricted = PathPatterns(rows.column("path_pattern"))

    def verdict(host: str, path: str) -> Optional[str]:
        pattern = restricted.match(path)
        return f"in restricted folder {pattern}" if pattern else None
    return verdict


def _restricted_substrings(rows: DetectionList) -> Verdict:
    substrings = [substring.lower() for substring in rows.column("substring")]

    def verdict(host: str, path: str) -> Optional[str]:
        lowered = path.lower()
        found = next((substring for substring in substrings if substring in lowered), None)
        return f"contains {found!r}" if found else None
    return verdict


VERDICTS: Dict[str, Callable[[DetectionList], Verdict]] = {
    "allowlist": _allowlist,
    "standard_folders": _standard_folders,
    "restricted_folders": _restricted_folders,
    "restricted_substrings": _restricted_substrings,
}


class EventDetections:
    """The per-event detections of a run: ``findings(event, time)`` lists what the event triggers.

    ``lists`` replaces a detection's shipped list by its name (a user's edited copy).
    """

    def __init__(self, detections: List[Detection], lists: Optional[Dict[str, DetectionList]] = None):
        lists = lists or {}
        self.verdicts = [(detection, VERDICTS[detection.kind](lists.get(detection.list.name, detection.list)))  # type: ignore[union-attr]
                         for detection in detections if detection.kind in VERDICTS]
        self.event_ids = frozenset().union(*(detection.event_ids for detection, _verdict in self.verdicts))
        self.reasons = lru_cache(maxsize=CACHE_SIZE)(self._reasons)

    def _reasons(self, host: str, path: str) -> Tuple[Tuple[Detection, str], ...]:
        found = ((detection, verdict(host, path)) for detection, verdict in self.verdicts)
        return tuple((detection, reason) for detection, reason in found if reason is not None)

    def findings(self, event: Event, time: Optional[int]) -> List[Finding]:
        event_id = event.system["EventID"]
        if event_id not in self.event_ids:
            return []
        path = event_process(event)
        hits = self.reasons(event.system.get("Computer") or "", path) if path is not None else ()
        if not hits:
            return []
        time_text = format_ns(time) or event.system.get("TimeCreated")
        return [finding_for(detection, event, reason, time_text)
                for detection, reason in hits if event_id in detection.event_ids]
