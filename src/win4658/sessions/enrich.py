"""4658 events carrying the object of their open: the 4658 itself has no ObjectType or ObjectName, its 4656
has. Events go through the log's order and HandleTracker (hunt's pairing); a paired 4658 gets the ObjectServer,
ObjectType and ObjectName of its open where it has none. Events leave in the log's order."""

from typing import Iterable, Iterator, Optional

from ..detections.lifetime import DEFAULT_MAX_OPEN, HandleTracker
from ..detections.timeline import DEFAULT_WINDOW, TimeOrder
from ..event import Event, ReadResult, ReadStats, RecordError
from ..readers import read_paths

PAIRING_EVENT_IDS = frozenset({4656, 4658, 4663})
ENRICHED_FIELDS = (("ObjectServer", "object_server"), ("ObjectType", "object_type"), ("ObjectName", "object_name"))


def read_enriched(
    paths: Iterable[str],
    event_ids: frozenset,
    stats: ReadStats,
    window: int = DEFAULT_WINDOW,
    max_open: int = DEFAULT_MAX_OPEN,
) -> Iterator[ReadResult]:
    """The wanted events of ``paths`` (4656 and 4663 are read for the pairing and counted as other ids when
    not wanted), each paired 4658 enriched."""
    tracker = HandleTracker(max_open)
    order = TimeOrder(window)

    def passed(time: Optional[int], event: Event) -> Iterator[Event]:
        lifetime = tracker.observe(event, time)
        if lifetime is not None:
            for field, attribute in ENRICHED_FIELDS:
                value = getattr(lifetime.opened, attribute)
                if value is not None and not event.data.get(field):
                    event.data[field] = value
        if event.event_id in event_ids:
            yield event
        else:
            stats.other_event_id += 1

    for result in read_paths(paths, event_ids | PAIRING_EVENT_IDS, stats):
        if isinstance(result, RecordError):
            yield result
            continue
        for time, event in order.push(result.time_ns(), result):
            yield from passed(time, event)
    for time, event in order.drain():
        yield from passed(time, event)
