"""The handle sessions at a glance, in bounded memory: counts by ending and by object type, and the longest
sessions (those with a duration, so closed) and the first handles still open at the end of the data (the oldest
opened first), with where each was read. What `hunt --sessions` shows in its table
and its HTML report; the sessions themselves stream to a file or a line each."""

import heapq
from collections import Counter
from itertools import count
from typing import Any, Dict, List, Tuple

from ..detections.lifetime import CLOSE_WITHOUT_OPEN, CLOSED, FORGOTTEN, OPEN_AT_END, REUSED
from ..event import Origin

ENDINGS = (CLOSED, REUSED, OPEN_AT_END, CLOSE_WITHOUT_OPEN, FORGOTTEN)  # the order they are shown in
NO_OBJECT_TYPE = "(none: no open)"  # a close without an open: the 4658 names no object
OTHER_OBJECT_TYPES = "(other types)"
MAX_OBJECT_TYPES = 200  # object types are named by the log: an input naming more is folded into one row


class ObjectTypeCounts:
    """The sessions of one object type: by ending, their accesses and the longest duration."""

    __slots__ = ("endings", "accesses", "longest_ns")

    def __init__(self) -> None:
        self.endings: Counter = Counter()
        self.accesses = 0
        self.longest_ns = 0

    @property
    def sessions(self) -> int:
        return sum(self.endings.values())


class SessionOverview:
    """``add(record, origin)`` for every session (records of sessions.record); ``longest()`` gives the ``kept``
    longest, the longest first (equal durations: the one that ended first first); ``still_open`` the first ``kept``
    sessions still open at the end of the data, as they came (the hunt ends them in the order they opened)."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.endings: Counter = Counter()
        self.object_types: Dict[str, ObjectTypeCounts] = {}
        self.with_duration = 0
        self._longest: List[Tuple[int, int, Dict[str, Any], Origin]] = []  # a min-heap: the shortest kept first
        self.still_open: List[Tuple[Dict[str, Any], Origin]] = []
        self._order = count()

    @property
    def total(self) -> int:
        return sum(self.endings.values())

    def add(self, record: Dict[str, Any], origin: Origin) -> None:
        ending = record["ending"]
        self.endings[ending] += 1
        counts = self._object_type(record.get("object_type", NO_OBJECT_TYPE))
        counts.endings[ending] += 1
        counts.accesses += record["access_count"]
        duration = record.get("duration_ns")
        if duration is None:
            if ending == OPEN_AT_END and len(self.still_open) < self.kept:
                self.still_open.append((record, origin))
            return
        self.with_duration += 1
        counts.longest_ns = max(counts.longest_ns, duration)
        if not self.kept:
            return
        item = (duration, -next(self._order), record, origin)
        if len(self._longest) < self.kept:
            heapq.heappush(self._longest, item)
        elif item[:2] > self._longest[0][:2]:
            heapq.heapreplace(self._longest, item)

    def _object_type(self, object_type: str) -> ObjectTypeCounts:
        counts = self.object_types.get(object_type)
        if counts is None:
            if len(self.object_types) >= MAX_OBJECT_TYPES:
                object_type = OTHER_OBJECT_TYPES
            counts = self.object_types.setdefault(object_type, ObjectTypeCounts())
        return counts

    def longest(self) -> List[Tuple[Dict[str, Any], Origin]]:
        return [
            (record, origin)
            for _duration, _order, record, origin in sorted(self._longest, reverse=True, key=lambda item: item[:2])
        ]

    def ending_counts(self) -> List[Tuple[str, int]]:
        """(ending, sessions) in the shown order; forgotten only when some were."""
        return [(ending, self.endings[ending]) for ending in ENDINGS if ending != FORGOTTEN or self.endings[ending]]

    def by_object_type(self) -> List[Tuple[str, ObjectTypeCounts]]:
        """Object types, the most sessions first."""
        return sorted(self.object_types.items(), key=lambda item: (-item[1].sessions, item[0]))
