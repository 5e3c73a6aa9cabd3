"""`win4658 hunt` as a library: every detection over event files, streaming, no SIEM.

Events are read (4656, 4658, 4663), put in time order through a bounded window, and each one goes to the
per-event detections (1–4) and to the handle tracker, whose lifetimes give the trace (5) and the long-handle
(6) findings. Findings are yielded as they are found; the summary counts everything.
"""
from collections import Counter
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ..convert import Summary
from ..event import Event, RecordError
from ..mapping import hex_to_int
from ..readers import read_paths
from .definitions import Detection, DetectionList, by_kind, load_bundle
from .engine import EventDetections, Finding, event_process
from .lifetime import DEFAULT_MAX_OPEN, HandleTracker, Lifetime, handle_key, lifetime_user
from ..times import format_ns, time_ns
from .timeline import DEFAULT_WINDOW, TimeOrder

HUNT_EVENT_IDS = frozenset({4656, 4658, 4663})


class HuntSummary(Summary):
    """What a hunt read and found: per-detection counts, per-process counts, the lifetime statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.events = 0
        self.findings: Counter = Counter()
        self.processes: Dict[str, Counter] = {}
        self.late_events = 0
        self.lifetime: dict = {}

    def count(self, finding: Finding) -> None:
        self.findings[finding.detection] += 1
        processes = self.processes.get(finding.detection)
        if processes is None:
            processes = self.processes[finding.detection] = Counter()
        processes[finding.process or "(unknown)"] += 1

    def as_dict(self) -> dict:
        return {
            "files": self.stats.files,
            "records": self.stats.records,
            "events": self.events,
            "skipped": dict(self.skipped),
            "late_events": self.late_events,
            "findings": dict(self.findings),
            "lifetime": self.lifetime,
        }


class Hunt:
    """The detections of one run; ``run(paths)`` yields Findings and RecordErrors."""

    def __init__(self, detections: Optional[List[Detection]] = None,
                 lists: Optional[Dict[str, DetectionList]] = None,
                 long_handle_seconds: Optional[float] = None, window: int = DEFAULT_WINDOW,
                 max_open_handles: int = DEFAULT_MAX_OPEN, sessions: bool = False):
        self.detections = detections if detections is not None else load_bundle()
        self.per_event = EventDetections(self.detections, lists)
        kinds = by_kind(self.detections)
        self.trace = kinds.get("handle_trace")
        self.lifetime = kinds.get("handle_lifetime")
        default_threshold = self.lifetime.parameters["long_handle_seconds"] if self.lifetime else 0
        self.long_handle_seconds = default_threshold if long_handle_seconds is None else long_handle_seconds
        self.window = window
        self.max_open_handles = max_open_handles
        self.sessions = sessions
        self.summary = HuntSummary()

    def run(self, paths: Iterable[str]) -> Iterator[Union[Finding, Lifetime, RecordError]]:
        """Findings and RecordErrors; with ``sessions``, also every handle's Lifetime as it ends (sessions.record)."""
        tracker = HandleTracker(self.max_open_handles, keep_endings=self.sessions)
        order = TimeOrder(self.window)
        for result in read_paths(paths, HUNT_EVENT_IDS, self.summary.stats):
            if isinstance(result, RecordError):
                self.summary.record_error(result)
                yield result
                continue
            self.summary.events += 1
            for time, event in order.push(time_ns(result.system.get("TimeCreated")), result):
                findings = self._examine(event, time, tracker)
                if findings:
                    yield from findings
        for time, event in order.drain():
            yield from self._examine(event, time, tracker)
        if self.sessions:
            yield from tracker.still_open()
        self.summary.late_events = order.late
        self.summary.lifetime = tracker.summary()

    def _examine(self, event: Event, time: Optional[int], tracker: HandleTracker) -> List[Union[Finding, Lifetime]]:
        """What one event triggers, counted (a list, not a generator: most events trigger nothing)."""
        findings = self.per_event.findings(event, time)
        lifetime = tracker.observe(event, time)
        if lifetime is not None:
            findings += self._lifetime_findings(lifetime)
        for finding in findings:
            self.summary.count(finding)
        ended = tracker.ended
        if ended is None:
            return findings  # type: ignore[return-value]
        if lifetime is not None:
            ended.append(lifetime)
        if not ended:
            return findings  # type: ignore[return-value]
        findings += ended  # type: ignore[arg-type]
        ended.clear()
        return findings  # type: ignore[return-value]

    def _lifetime_findings(self, lifetime: Lifetime) -> List[Finding]:
        findings = []
        seconds = lifetime.seconds
        if self.lifetime and seconds is not None and seconds > self.long_handle_seconds:
            findings.append(_lifetime_finding(self.lifetime, lifetime,
                                              f"open {seconds:,.3f} s, longer than {self.long_handle_seconds:g} s",
                                              lifetime.evidence()))
        if self.trace and lifetime.access_count:
            findings.append(_lifetime_finding(self.trace, lifetime,
                                              f"opened, accessed {lifetime.access_count} time(s), closed",
                                              dict(lifetime.evidence(), events=_trace_events(lifetime))))
        return findings


def _lifetime_finding(detection: Detection, lifetime: Lifetime, reason: str, details: dict) -> Finding:
    closed = lifetime.closed
    return Finding(detection.id, detection.number, format_ns(lifetime.closed_ns) or closed.system.get("TimeCreated"),
                   closed.system.get("Computer"), lifetime_user(lifetime),
                   event_process(closed) or lifetime.opened.process,
                   closed.data.get("ProcessId"), closed.data.get("HandleId"), reason, closed.origin, details)


def _trace_events(lifetime: Lifetime) -> List[dict]:
    opened = {"time": format_ns(lifetime.opened_ns), "event_id": 4656,
              "access_mask": lifetime.opened.access_mask, "object_name": lifetime.opened.object_name}
    closed = {"time": format_ns(lifetime.closed_ns), "event_id": 4658}
    return [opened, *lifetime.accesses, closed]


def trace_handle(paths: Iterable[str], host: str, process_id: str, handle_id: str,
                 window: int = DEFAULT_WINDOW) -> Iterator[Union[Tuple[Optional[int], Event], RecordError]]:
    """Detection 5 as a drill-down: every 4656, 4663 and 4658 of one handle, oldest first, with its time."""
    wanted = (host.lower(), hex_to_int(process_id), handle_id.lower())
    order = TimeOrder(window)
    for result in read_paths(paths, HUNT_EVENT_IDS):
        if isinstance(result, RecordError):
            yield result
            continue
        key = handle_key(result)
        if key is not None and ((key[0] or "").lower(), key[1], key[2].lower()) == wanted:
            yield from order.push(time_ns(result.system.get("TimeCreated")), result)
    yield from order.drain()
