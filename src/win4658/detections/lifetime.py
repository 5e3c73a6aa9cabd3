"""Handle lifetime: pair each 4658 with the 4656 that opened its handle, and trace what happened between.

The algorithm every platform shares (Splunk's streamstats, EQL's sequence, this module), over events in
the log's order (timeline.py):

- a 4656 opens a handle unless it failed (Audit Failure) or its HandleId is 0x0;
- a 4663 for an open handle is recorded as an access;
- a 4658 closes the most recent open handle with the same (host, ProcessId, HandleId) and discards older
  opens for that key: the handle value was reused, so their closes were not logged. A 4658 with no open
  handle is counted as unmatched, and so is one timed before that handle's 4656 (it can only arrive after it
  when the input is further out of order than the re-ordering window; in full time order it came first).

Only the most recent open per key is kept, so memory is bounded by the number of open handles (and that by
``max_open``).
"""

from collections import OrderedDict
from functools import lru_cache
from sys import intern
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from ..event import Event, Origin, RecordError
from ..times import format_ns
from ..windows import hex_to_int
from .engine import ABSENT, event_process, event_user

FAILURE_KEYWORDS = ("0x8010000000000000", "Audit Failure")
ZERO_HANDLES = ("0x0", "0", "0x00000000", "0x0000000000000000")
MAX_TRACED_ACCESSES = 32
DEFAULT_MAX_OPEN = 50_000
HandleKey = Tuple[Optional[str], int, str]


# An event whose ProcessId or HandleId is missing or unreadable names no handle it can be paired on: no session
NO_HANDLE = "no handle"
NO_HANDLE_MESSAGE = "a {} with no readable ProcessId or HandleId names no handle: no handle session"


def handle_key(event: Event) -> Optional[HandleKey]:
    """(host, ProcessId as a number, HandleId as written): the keys EQL's sequence and Splunk's streamstats use."""
    process_id, handle_id = event.data.get("ProcessId"), event.data.get("HandleId")
    if not process_id or not handle_id or process_id in ABSENT or handle_id in ABSENT:
        return None
    try:
        return (event.system.get("Computer"), process_number(process_id), handle_id)
    except ValueError:
        return None


# Process ids as numbers: a log repeats a few thousand of them (hex_to_int is pure; errors are not remembered)
process_number = lru_cache(maxsize=4096)(hex_to_int)
mask_number = lru_cache(maxsize=1024)(hex_to_int)  # access masks: a few dozen values


def opens_handle(event: Event) -> bool:
    """A 4656 opens a handle unless it is known to have failed or its HandleId is 0x0."""
    keywords = event.system.get("Keywords")
    failed = (
        any(word in FAILURE_KEYWORDS for word in keywords)
        if isinstance(keywords, list)
        else keywords in FAILURE_KEYWORDS
    )
    return not failed and event.data.get("HandleId") not in ZERO_HANDLES


class Opened(NamedTuple):
    """What a lifetime keeps of its 4656: only what the evidence and the session show, so open handles stay small."""

    origin: Origin
    process: Optional[str]
    user: Optional[str]
    object_type: Optional[str]
    object_name: Optional[str]
    access_mask: Optional[str]
    object_server: Optional[str]
    # only the handle sessions show these (None unless ``of`` is asked for them)
    user_sid: Optional[str] = None
    logon_id: Optional[str] = None
    privileges: Optional[str] = None
    record_id: object = None

    @classmethod
    def of(cls, event: Event, for_sessions: bool = True) -> "Opened":
        data = event.data
        # interned: thousands of open handles share a few hundred processes, users and objects
        shown = (
            event.origin,
            _interned(event_process(event)),
            _interned(event_user(event)),
            _interned(data.get("ObjectType")),
            _interned(data.get("ObjectName")),
            _interned(data.get("AccessMask")),
            _interned(data.get("ObjectServer")),
        )
        if not for_sessions:
            return new_opened(cls, shown + NOT_FOR_SESSIONS)
        return new_opened(
            cls,
            shown
            + (
                _interned(data.get("SubjectUserSid")),
                _interned(data.get("SubjectLogonId")),
                _interned(data.get("PrivilegeList")),
                event.system.get("EventRecordID"),
            ),
        )


NOT_FOR_SESSIONS = (None, None, None, None)


new_opened = tuple.__new__  # Opened(…) without its Python-level __new__ (one per open)


def _interned(text: Optional[str]) -> Optional[str]:
    return None if text is None else intern(text)


class OpenHandle:
    __slots__ = ("time", "opened", "accesses", "access_count", "used_mask")

    def __init__(self, time: Optional[int], event: Event, for_sessions: bool = True):
        self.time = time
        self.opened = Opened.of(event, for_sessions)
        self.accesses: List[dict] = []
        self.access_count = 0
        self.used_mask = 0  # the 4663 access masks, or-ed


# How a handle's record ended: its 4658 closed it; a later 4656 of the same key replaced it (reused: its close
# was not logged); the data ended with it open; it was forgotten past max_open; a 4658 found no open.
CLOSED, REUSED, OPEN_AT_END, FORGOTTEN, CLOSE_WITHOUT_OPEN = (
    "closed",
    "reused_before_close",
    "open_at_end",
    "forgotten_over_limit",
    "close_without_open",
)


class Lifetime(NamedTuple):
    """One handle from its 4656 to its 4658 (or to how it ended otherwise: ``ending``). A closed one has both;
    a close without an open has no ``opened``, the other endings no ``closed``."""

    key: HandleKey
    opened: Opened
    closed: Event
    opened_ns: Optional[int]
    closed_ns: Optional[int]
    accesses: List[dict]
    access_count: int
    used_mask: int = 0
    ending: str = CLOSED

    @property
    def seconds(self) -> Optional[float]:
        if self.opened_ns is None or self.closed_ns is None:
            return None
        return (self.closed_ns - self.opened_ns) / 1e9

    def evidence(self) -> dict:
        return {
            "opened": format_ns(self.opened_ns),
            "closed": format_ns(self.closed_ns),
            "duration_seconds": self.seconds,
            "object_type": self.opened.object_type,
            "object_name": self.opened.object_name,
            "access_mask": self.opened.access_mask,
        }


new_lifetime = tuple.__new__  # Lifetime(…) without its Python-level __new__ (one per handle session)


class ProcessStatistics:
    __slots__ = ("handles", "total_seconds", "longest_seconds")

    def __init__(self) -> None:
        self.handles = 0
        self.total_seconds = 0.0
        self.longest_seconds = 0.0

    def add(self, seconds: Optional[float]) -> None:
        self.handles += 1
        if seconds is not None:
            self.total_seconds += seconds
            self.longest_seconds = max(self.longest_seconds, seconds)

    def as_dict(self) -> dict:
        return {
            "handles": self.handles,
            "mean_seconds": self.total_seconds / self.handles,
            "longest_seconds": self.longest_seconds,
        }


class HandleTracker:
    """Feed events in time order with ``observe``; it returns the Lifetime a 4658 completes, if any.

    At most ``max_open`` handles are kept open: past that the oldest open is forgotten (and counted), so memory
    stays bounded even over logs where opens pile up without closes. With ``on_end``, every handle's record is
    given to it as it ends, however it ends (closed, reused, forgotten, a close without an open), and
    ``end()`` gives it those open at the end of the data: the handle sessions (each open then keeps the 4656
    fields a session shows). An event that names no handle then has no session: its RecordError is appended to
    ``no_handle`` for the caller to take.
    """

    def __init__(self, max_open: int = DEFAULT_MAX_OPEN, on_end: Optional[Callable[[Lifetime], None]] = None) -> None:
        self.max_open = max(max_open, 1)
        self.on_end = on_end
        self.no_handle: List[RecordError] = []
        # in the order the handles were opened: an OrderedDict forgets its oldest in constant time, where a dict
        # scans the slots its earlier deletions left (20 µs per open at 50,000 open handles)
        self.open: "OrderedDict[HandleKey, OpenHandle]" = OrderedDict()
        self.opens = 0
        self.not_opened = 0
        self.discarded_opens = 0
        self.forgotten_opens = 0
        self.closes = 0
        self.paired = 0
        self.unmatched_closes = 0
        self.accesses = 0
        self.by_process: Dict[str, ProcessStatistics] = {}

    def observe(self, event: Event, time: Optional[int]) -> Optional[Lifetime]:
        key = handle_key(event)
        event_id = event.system["EventID"]
        if event_id == 4658:
            return self._close(key, event, time)
        if key is None:
            if self.on_end is not None:
                self.no_handle.append(_no_handle(event))
            return None
        if event_id == 4656:
            self._open(key, event, time)
        elif event_id == 4663 and key in self.open:
            self._access(self.open[key], event, time)
        return None

    def _open(self, key: HandleKey, event: Event, time: Optional[int]) -> None:
        if not opens_handle(event):
            self.not_opened += 1
            return
        self.opens += 1
        replaced = self.open.pop(key, None)
        if replaced is not None:
            self.discarded_opens += 1
            self._end(key, replaced, REUSED)
        elif len(self.open) >= self.max_open:
            forgotten_key, forgotten = self.open.popitem(last=False)
            self.forgotten_opens += 1
            self._end(forgotten_key, forgotten, FORGOTTEN)
        self.open[key] = OpenHandle(time, event, self.on_end is not None)

    def _end(self, key: HandleKey, handle: OpenHandle, ending: str) -> None:
        if self.on_end is not None:
            self.on_end(unclosed(key, handle, ending))

    def _access(self, handle: OpenHandle, event: Event, time: Optional[int]) -> None:
        self.accesses += 1
        handle.access_count += 1
        try:
            handle.used_mask |= mask_number(event.data.get("AccessMask"))
        except ValueError:
            pass
        if len(handle.accesses) < MAX_TRACED_ACCESSES:
            handle.accesses.append(
                {
                    "time": format_ns(time),
                    "event_id": 4663,
                    "access_mask": event.data.get("AccessMask"),
                    "object_name": event.data.get("ObjectName"),
                }
            )

    def _close(self, key: Optional[HandleKey], event: Event, time: Optional[int]) -> Optional[Lifetime]:
        self.closes += 1
        handle = self.open.get(key) if key is not None else None
        if key is None or handle is None or (time is not None and handle.time is not None and time < handle.time):
            self.unmatched_closes += 1
            if self.on_end is None:
                return None
            if key is None:
                self.no_handle.append(_no_handle(event))
            else:
                self.on_end(new_lifetime(Lifetime, (key, None, event, None, time, [], 0, 0, CLOSE_WITHOUT_OPEN)))
            return None
        del self.open[key]
        self.paired += 1
        lifetime = new_lifetime(
            Lifetime,
            (
                key,
                handle.opened,
                event,
                handle.time,
                time,
                handle.accesses,
                handle.access_count,
                handle.used_mask,
                CLOSED,
            ),
        )
        process = event_process(event) or handle.opened.process or "(unknown)"
        self.by_process.setdefault(process, ProcessStatistics()).add(lifetime.seconds)
        if self.on_end is not None:
            self.on_end(lifetime)
        return lifetime

    def end(self) -> None:
        """The data has ended: each handle still open goes to ``on_end`` (OPEN_AT_END), oldest open first."""
        if self.on_end is not None:
            for key, handle in self.open.items():
                self.on_end(unclosed(key, handle, OPEN_AT_END))

    def summary(self) -> dict:
        return {
            "closes": self.closes,
            "paired": self.paired,
            "unmatched_closes": self.unmatched_closes,
            "opens": self.opens,
            "opens_not_counted": self.not_opened,
            "opens_discarded_by_reuse": self.discarded_opens,
            "opens_forgotten_over_limit": self.forgotten_opens,
            "still_open": len(self.open),
            "accesses": self.accesses,
            "by_process": {process: stats.as_dict() for process, stats in sorted(self.by_process.items())},
        }


def _no_handle(event: Event) -> RecordError:
    return RecordError(event.origin, NO_HANDLE, NO_HANDLE_MESSAGE.format(event.system["EventID"]))


def unclosed(key: HandleKey, handle: OpenHandle, ending: str) -> Lifetime:
    return new_lifetime(
        Lifetime,
        (key, handle.opened, None, handle.time, None, handle.accesses, handle.access_count, handle.used_mask, ending),
    )


def lifetime_user(lifetime: Lifetime) -> Optional[str]:
    return event_user(lifetime.closed) or lifetime.opened.user
