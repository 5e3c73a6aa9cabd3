"""`win4658 hunt` as a library: every detection over event files, streaming, no SIEM.

Events are read (4656, 4658, 4663), put in time order through a bounded window, and each one goes to the
per-event detections (1–4) and to the handle tracker, whose lifetimes give the trace (5) and the long-handle
(6) findings. Findings are yielded as they are found; the summary counts everything. The trace (5) is a
drill-down: its items are yielded as Findings but counted apart, never among the findings.
"""

from collections import Counter
from typing import Callable, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from ..convert import Summary
from ..event import Event, ReadStats, RecordError
from ..readers import read_paths
from ..times import format_ns
from .definitions import SEVERITIES, Detection, DetectionList, by_kind, load_bundle
from .durations import Durations
from .engine import SHOWN_FIELDS, EventDetections, Finding, event_process
from .lifetime import DEFAULT_MAX_OPEN, HandleKey, HandleTracker, Lifetime, handle_key, lifetime_user
from .timeline import DEFAULT_WINDOW, TimeOrder

HUNT_EVENT_IDS = frozenset({4656, 4658, 4663})


class HuntSummary(Summary):
    """What a hunt read and found: per-detection counts, per-process counts, the lifetime statistics."""

    def __init__(self, detections: Iterable[Detection]) -> None:
        super().__init__()
        self.detections = {detection.id: detection for detection in detections}
        self.events = 0
        self.findings: Counter = Counter()
        self.drilldowns: Counter = Counter()
        self.processes: Dict[str, Counter] = {}
        self.hosts: Counter = Counter()  # events hunted per host
        self.first_ns: Optional[int] = None
        self.last_ns: Optional[int] = None
        self.late_events = 0
        self.lifetime: dict = {}

    def count(self, finding: Finding) -> None:
        detection = self.detections.get(finding.detection)
        (self.drilldowns if detection is not None and detection.drilldown else self.findings)[finding.detection] += 1
        processes = self.processes.get(finding.detection)
        if processes is None:
            processes = self.processes[finding.detection] = Counter()
        processes[finding.process or "(unknown)"] += 1

    def time_range(self) -> Tuple[Optional[str], Optional[str]]:
        return format_ns(self.first_ns), format_ns(self.last_ns)

    def severities(self) -> Dict[str, int]:
        """Findings per severity, the most severe first (only the severities found)."""
        counts: Counter = Counter()
        for detection_id, found in self.findings.items():
            counts[self.detections[detection_id].severity] += found
        return {severity: counts[severity] for severity in SEVERITIES if counts[severity]}

    def as_dict(self) -> dict:
        return {
            "files": self.stats.files,
            "records": self.stats.records,
            "events": self.events,
            "skipped": dict(self.skipped),
            "late_events": self.late_events,
            "first_event": self.time_range()[0],
            "last_event": self.time_range()[1],
            "hosts": {host or "(unknown)": events for host, events in self.hosts.most_common()},
            "severities": self.severities(),
            "findings": dict(self.findings),
            "drilldowns": dict(self.drilldowns),
            "lifetime": self.lifetime,
        }


class Hunt:
    """The detections of one run; ``run(paths)`` yields Findings and RecordErrors."""

    def __init__(
        self,
        detections: Optional[List[Detection]] = None,
        lists: Optional[Dict[str, DetectionList]] = None,
        long_handle_seconds: Optional[float] = None,
        window: int = DEFAULT_WINDOW,
        max_open_handles: int = DEFAULT_MAX_OPEN,
        sessions: bool = False,
    ):
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
        self.summary = HuntSummary(self.detections)
        self.durations = Durations()
        # what a finding's document adds, per detection: severity and ATT&CK ids, or the drill-down mark
        self.triage: Dict[str, dict] = {
            detection.id: {"drilldown": True}
            if detection.drilldown
            else {"severity": detection.severity, "mitre": detection.attack_ids}
            for detection in self.detections
        }

    def document(self, finding: Finding) -> dict:
        """A finding as JSON: its fields with its detection's severity and ATT&CK ids, or marked as a drill-down."""
        if finding.details is None:  # the per-event findings: as as_dict gives them, without its general steps
            document: dict = {name: value for name, value in zip(SHOWN_FIELDS, finding) if value is not None}
            if finding.origin is not None:
                document["source"] = str(finding.origin)
        else:
            document = finding.as_dict()
        document.update(self.triage[finding.detection])
        return document

    def run(
        self, paths: Iterable[str], on_session: Optional[Callable[[Lifetime], None]] = None
    ) -> Iterator[Union[Finding, Lifetime, RecordError]]:
        """Findings and RecordErrors; with ``sessions``, also every handle's Lifetime as it ends (sessions.record):
        given to ``on_session`` when there is one (before the findings of the event that ended it), else yielded."""
        pending: List[Lifetime] = []  # the sessions an event ended, yielded after its findings
        tracker = HandleTracker(self.max_open_handles, on_end=(on_session or pending.append) if self.sessions else None)
        order = TimeOrder(self.window)
        for result in read_paths(paths, HUNT_EVENT_IDS, self.summary.stats):
            if isinstance(result, RecordError):
                self.summary.record_error(result)
                yield result
                continue
            self.summary.events += 1
            for time, event in order.push(result.time_ns(), result):
                findings = self._examine(event, time, tracker)
                if findings:
                    yield from findings
                if pending:
                    yield from pending
                    pending.clear()
        for time, event in order.drain():
            yield from self._examine(event, time, tracker)
            yield from pending
            pending.clear()
        tracker.end()
        yield from pending
        self.summary.late_events = order.late
        self.summary.lifetime = tracker.summary()

    def _examine(self, event: Event, time: Optional[int], tracker: HandleTracker) -> List[Union[Finding, RecordError]]:
        """What one event triggers, counted (a list, not a generator: most events trigger nothing)."""
        summary = self.summary
        summary.hosts[event.system.get("Computer")] += 1  # HuntSummary.saw, inline: it runs for every event
        if time is not None:
            if summary.first_ns is None or time < summary.first_ns:
                summary.first_ns = time
            if summary.last_ns is None or time > summary.last_ns:
                summary.last_ns = time
        findings = self.per_event.findings(event, time)
        lifetime = tracker.observe(event, time)
        if lifetime is not None:
            self.durations.add(lifetime)
            findings += self._lifetime_findings(lifetime)
        for finding in findings:
            self.summary.count(finding)
        no_handle = tracker.no_handle
        if not no_handle:
            return findings  # type: ignore[return-value]
        for error in no_handle:
            summary.record_error(error)
        findings += no_handle  # type: ignore[arg-type]
        no_handle.clear()
        return findings  # type: ignore[return-value]

    def _lifetime_findings(self, lifetime: Lifetime) -> List[Finding]:
        findings = []
        seconds = lifetime.seconds
        if self.lifetime and seconds is not None and seconds > self.long_handle_seconds:
            findings.append(
                _lifetime_finding(
                    self.lifetime,
                    lifetime,
                    f"open {seconds:,.3f} s, longer than {self.long_handle_seconds:g} s",
                    lifetime.evidence(),
                )
            )
        if self.trace and lifetime.access_count:
            findings.append(
                _lifetime_finding(
                    self.trace,
                    lifetime,
                    f"opened, accessed {lifetime.access_count} time(s), closed",
                    dict(lifetime.evidence(), events=_trace_events(lifetime)),
                )
            )
        return findings


def _lifetime_finding(detection: Detection, lifetime: Lifetime, reason: str, details: dict) -> Finding:
    closed = lifetime.closed
    return Finding(
        detection.id,
        detection.number,
        format_ns(lifetime.closed_ns) or closed.system.get("TimeCreated"),
        closed.system.get("Computer"),
        lifetime_user(lifetime),
        event_process(closed) or lifetime.opened.process,
        closed.data.get("ProcessId"),
        closed.data.get("HandleId"),
        reason,
        closed.origin,
        details,
    )


def _trace_events(lifetime: Lifetime) -> List[dict]:
    opened = {
        "time": format_ns(lifetime.opened_ns),
        "event_id": 4656,
        "access_mask": lifetime.opened.access_mask,
        "object_name": lifetime.opened.object_name,
    }
    closed = {"time": format_ns(lifetime.closed_ns), "event_id": 4658}
    return [opened, *lifetime.accesses, closed]


class HandleQuery(NamedTuple):
    """Which handle ``--trace`` lists, in the forms people write it.

    The host matches with or without its domain (WS01 and WS01.contoso.local); a process id with 0x is hex, one
    of decimal digits is read both ways (Task Manager shows decimal, the event hex without 0x), one with a-f is
    hex; a handle id is always hex, with or without 0x and leading zeros.
    """

    host: str
    process_ids: FrozenSet[int]
    handle_id: int

    @classmethod
    def parse(cls, host: str, process_id: str, handle_id: str) -> "HandleQuery":
        """Raises ValueError naming the part that is not a number."""
        return cls(host.strip().lower(), _process_ids(process_id), _hex(handle_id, "handle id"))

    def matches(self, key: Optional[HandleKey]) -> bool:
        if key is None or key[1] not in self.process_ids:
            return False
        try:
            handle = int(key[2], 16)
        except ValueError:
            return False
        return handle == self.handle_id and same_host(self.host, key[0] or "")


def _process_ids(text: str) -> FrozenSet[int]:
    text = text.strip()
    if text[:2].lower() == "0x" or not text.isdigit():
        return frozenset({_hex(text, "process id")})
    return frozenset({int(text), int(text, 16)})


def _hex(text: str, what: str) -> int:
    digits = text.strip()
    digits = digits[2:] if digits[:2].lower() == "0x" else digits
    try:
        return int(digits, 16)
    except ValueError:
        raise ValueError(f"not a {what}: {text!r}") from None


def same_host(wanted: str, host: str) -> bool:
    """Host names equal without case, or their first labels when either has no domain."""
    host = host.lower()
    if wanted == host:
        return True
    return ("." not in wanted or "." not in host) and wanted.split(".", 1)[0] == host.split(".", 1)[0]


def trace_handle(
    paths: Iterable[str], query: HandleQuery, window: int = DEFAULT_WINDOW, stats: Optional[ReadStats] = None
) -> Iterator[Union[Tuple[Optional[int], Event], RecordError]]:
    """Detection 5 as a drill-down: every 4656, 4663 and 4658 of one handle, oldest first, with its time."""
    order = TimeOrder(window)
    for result in read_paths(paths, HUNT_EVENT_IDS, stats):
        if isinstance(result, RecordError):
            yield result
            continue
        if query.matches(handle_key(result)):
            yield from order.push(result.time_ns(), result)
    yield from order.drain()
