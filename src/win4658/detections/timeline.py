"""Time order for the handle detections: a bounded re-ordering window over integer event times (win4658.times).

Exports do not always run oldest first (Get-WinEvent writes newest first), but pairing needs time order,
ties broken by position in the input. Events pass through a heap of at most ``window`` events; once it is
full, the earliest leaves. An event older than one already released (further out of order than the window)
is passed on at once and counted in ``late``. Memory stays bounded whatever the input size.
"""
import heapq
from typing import Iterator, List, Optional, Tuple, TypeVar

DEFAULT_WINDOW = 10_000
Item = TypeVar("Item")


class TimeOrder:
    """Re-orders (time, item) pairs within a bounded window; ``late`` counts those that came too late."""

    def __init__(self, window: int = DEFAULT_WINDOW):
        self.window = max(window, 1)
        self.heap: List[Tuple[int, int, object]] = []
        self.position = 0
        self.released: Optional[Tuple[int, int]] = None
        self.late = 0

    def push(self, time: Optional[int], item: Item) -> Tuple[Tuple[Optional[int], Item], ...]:
        """Add one item; return those that leave the window (none or one, a tuple: no generator per item)."""
        self.position += 1
        order = (time if time is not None else -1, self.position)
        if self.released is not None and order < self.released:
            self.late += 1
            return ((time, item),)
        entry = (order[0], order[1], (time, item))
        if len(self.heap) < self.window:
            heapq.heappush(self.heap, entry)
            return ()
        time_key, position, pair = heapq.heappushpop(self.heap, entry)
        self.released = (time_key, position)
        return (pair,)

    def drain(self) -> Iterator[Tuple[Optional[int], Item]]:
        while self.heap:
            yield self._pop()

    def _pop(self) -> Tuple[Optional[int], Item]:
        time_key, position, pair = heapq.heappop(self.heap)
        self.released = (time_key, position)
        return pair  # type: ignore[return-value]
