"""The log's own order for handle pairing (DESIGN.md "Pairing order"), through a bounded re-ordering window.

Events are ordered by time; equal times by file, then host, then the log's record number where the form
carries one (EVTX EventRecordID, NXLog RecordNumber, Winlogbeat record_number, all read into EventRecordID),
else by the record's position in the direction the file runs. That direction is voted on over a file's first
``window`` events without a record number (times going down more often than up: the file runs newest first;
Event Viewer "Save as", ``wevtutil qe /rd:true`` and Get-WinEvent write such files). No rule on event kinds
orders equal times, so a reversed copy of a file gives the same order.

Events pass through a heap of at most ``window`` events; once it is full, the earliest leaves. An event
earlier than one already released (further out of order than the window) is passed on at once and counted
in ``late``. Memory stays bounded whatever the input size.
"""

import heapq
from typing import Iterator, List, Optional, Tuple

from ..event import Event

DEFAULT_WINDOW = 10_000
Released = Tuple[Tuple[Optional[int], Event], ...]


def record_number(event: Event) -> Optional[int]:
    """The log's record number, where the form carries one."""
    number = event.system.get("EventRecordID")
    if number.__class__ is int:
        return number
    return int(number) if isinstance(number, str) and number.isdigit() else None


def run_direction(times: List[Optional[int]]) -> int:
    """1 when the times mostly go up from one record to the next (oldest first), -1 when they mostly go down."""
    known = [time for time in times if time is not None]
    ups = sum(1 for earlier, later in zip(known, known[1:]) if later > earlier)
    downs = sum(1 for earlier, later in zip(known, known[1:]) if later < earlier)
    return -1 if downs > ups else 1


class TimeOrder:
    """Re-orders (time, event) pairs into the log's order within a bounded window; ``late`` counts those too late.

    A heap entry is flat, (time, file index, host, rank, position, (time, event)): the position is unique, so
    comparisons end before the pair, and one tuple compared per step costs half a nested (order, pair) one.
    """

    def __init__(self, window: int = DEFAULT_WINDOW):
        self.window = max(window, 1)
        self.heap: List[tuple] = []
        self.position = 0
        self.released: Optional[tuple] = None  # the last entry released
        self.late = 0
        self.file: Optional[str] = None
        self.file_index = 0
        self.direction = 0  # of the current file: 1 oldest first, -1 newest first, 0 not known yet
        self.undirected: List[Tuple[Optional[int], Event, int]] = []  # waiting for the direction to be known

    def push(self, time: Optional[int], event: Event) -> Released:
        """Add one event; return those that leave the window (a tuple: no generator per event)."""
        self.position = position = self.position + 1
        number = event.system.get("EventRecordID")
        if number.__class__ is not int or event.origin.path != self.file:
            return self._push(time, event, position)
        return self._enter(time, event, number, position)  # the usual event: numbered, in the same file

    def _push(self, time: Optional[int], event: Event, position: int) -> Released:
        released: Released = ()
        if event.origin.path != self.file:
            released = self._end_file()
            self.file = event.origin.path
            self.file_index += 1
        number = record_number(event)
        if number is not None:
            return released + self._enter(time, event, number, position)
        if self.direction:
            return released + self._enter(time, event, self.direction * position, position)
        self.undirected.append((time, event, position))
        if len(self.undirected) >= self.window:
            released += self._direct()
        return released

    def drain(self) -> Iterator[Tuple[Optional[int], Event]]:
        yield from self._end_file()
        while self.heap:
            yield self._pop()

    def _end_file(self) -> Released:
        released = self._direct() if self.undirected else ()
        self.direction = 0
        return released

    def _direct(self) -> Released:
        """Decide the current file's direction and let its waiting events in."""
        waiting, self.undirected = self.undirected, []
        self.direction = run_direction([time for time, _event, _position in waiting])
        released: Released = ()
        for time, event, position in waiting:
            released += self._enter(time, event, self.direction * position, position)
        return released

    def _enter(self, time: Optional[int], event: Event, rank: int, position: int) -> Released:
        entry = (
            time if time is not None else -1,
            self.file_index,
            event.system.get("Computer") or "",
            rank,
            position,
            (time, event),
        )
        if self.released is not None and entry < self.released:
            self.late += 1
            return (entry[5],)
        if len(self.heap) < self.window:
            heapq.heappush(self.heap, entry)
            return ()
        self.released = released = heapq.heappushpop(self.heap, entry)
        return (released[5],)

    def _pop(self) -> Tuple[Optional[int], Event]:
        self.released = released = heapq.heappop(self.heap)
        return released[5]
