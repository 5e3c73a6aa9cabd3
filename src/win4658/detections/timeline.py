"""Time order for the handle detections: event times as integers, and a bounded re-ordering window.

Exports do not always run oldest first (Get-WinEvent writes newest first), but pairing needs time order,
ties broken by position in the input. Events pass through a heap of at most ``window`` events; once it is
full, the earliest leaves. An event older than one already released (further out of order than the window)
is passed on at once and counted in ``late``. Memory stays bounded whatever the input size.
"""
import calendar
import heapq
import re
from functools import lru_cache
from time import gmtime
from typing import Iterator, List, Optional, Tuple, TypeVar

ISO_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$")
DEFAULT_WINDOW = 10_000
Item = TypeVar("Item")


def time_ns(text: object) -> Optional[int]:
    """Nanoseconds since the epoch of an ISO-8601 time (no zone means UTC), or None when unreadable."""
    match = ISO_TIME.match(str(text).strip()) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    seconds = _day_start(year, month, day) + int(hour) * 3600 + int(minute) * 60 + int(second)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    nanoseconds = int(fraction[:9].ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanoseconds


@lru_cache(maxsize=4096)
def _day_start(year: str, month: str, day: str) -> int:
    return calendar.timegm((int(year), int(month), int(day), 0, 0, 0))


def format_ns(nanoseconds: Optional[int]) -> Optional[str]:
    """ISO-8601 UTC with microseconds, the precision the evidence tables show."""
    if nanoseconds is None:
        return None
    seconds, remainder = divmod(nanoseconds, 1_000_000_000)
    stamp = "%04d-%02d-%02dT%02d:%02d:%02d" % gmtime(seconds)[:6]
    return f"{stamp}.{remainder // 1000:06d}Z"


class TimeOrder:
    """Re-orders (time, item) pairs within a bounded window; ``late`` counts those that came too late."""

    def __init__(self, window: int = DEFAULT_WINDOW):
        self.window = max(window, 1)
        self.heap: List[Tuple[int, int, object]] = []
        self.position = 0
        self.released: Optional[Tuple[int, int]] = None
        self.late = 0

    def push(self, time: Optional[int], item: Item) -> Iterator[Tuple[Optional[int], Item]]:
        """Add one item; yield those that leave the window, earliest first."""
        self.position += 1
        order = (time if time is not None else -1, self.position)
        if self.released is not None and order < self.released:
            self.late += 1
            yield time, item
            return
        heapq.heappush(self.heap, (order[0], order[1], (time, item)))
        if len(self.heap) > self.window:
            yield self._pop()

    def drain(self) -> Iterator[Tuple[Optional[int], Item]]:
        while self.heap:
            yield self._pop()

    def _pop(self) -> Tuple[Optional[int], Item]:
        time_key, position, pair = heapq.heappop(self.heap)
        self.released = (time_key, position)
        return pair  # type: ignore[return-value]
