"""How long handles were open, for the report's lifetime view: a histogram of every paired handle's duration and
the longest handles with their objects. Memory stays bounded: counts per bin and a fixed number of handles."""

import heapq
from bisect import bisect_right
from itertools import count
from typing import List, Tuple

from .engine import event_process
from .lifetime import Lifetime

# upper bounds of the histogram's bins in seconds (the last bin is everything longer)
BIN_BOUNDS = (0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 86400.0)
BIN_LABELS = (
    "< 1 ms",
    "1–10 ms",
    "10–100 ms",
    "0.1–1 s",
    "1–10 s",
    "10 s–1 min",
    "1–10 min",
    "10 min–1 h",
    "1 h–1 day",
    "≥ 1 day",
)
LONGEST_KEPT = 40


class Durations:
    """``add(lifetime)`` for every paired handle; ``bins`` counts them, ``longest()`` lists the longest first."""

    def __init__(self, kept: int = LONGEST_KEPT) -> None:
        self.kept = kept
        self.bins = [0] * (len(BIN_BOUNDS) + 1)
        self.unknown = 0  # paired handles with a time that could not be read
        self._longest: List[Tuple[float, int, dict]] = []  # a min-heap: the shortest of the kept is first
        self._order = count()

    def add(self, lifetime: Lifetime) -> None:
        seconds = lifetime.seconds
        if seconds is None:
            self.unknown += 1
            return
        self.bins[bisect_right(BIN_BOUNDS, seconds)] += 1
        if len(self._longest) < self.kept:
            heapq.heappush(self._longest, (seconds, next(self._order), _handle(lifetime, seconds)))
        elif seconds > self._longest[0][0]:
            heapq.heapreplace(self._longest, (seconds, next(self._order), _handle(lifetime, seconds)))

    def histogram(self) -> List[Tuple[str, int]]:
        return list(zip(BIN_LABELS, self.bins))

    def longest(self) -> List[dict]:
        return [handle for _seconds, _order, handle in sorted(self._longest, key=lambda item: (-item[0], item[1]))]


def _handle(lifetime: Lifetime, seconds: float) -> dict:
    evidence = lifetime.evidence()
    closed = lifetime.closed
    return {
        "host": closed.system.get("Computer"),
        "process": event_process(closed) or lifetime.opened.process,
        "process_id": closed.data.get("ProcessId"),
        "handle_id": closed.data.get("HandleId"),
        "opened": evidence["opened"],
        "closed": evidence["closed"],
        "duration_seconds": seconds,
        "object_type": evidence["object_type"],
        "object_name": evidence["object_name"],
        "source": str(closed.origin),
    }
