"""Conversion runs: read any inputs, map each event, count everything for the closing summary."""

from collections import Counter
from typing import Any, Callable, Dict, Iterable, Iterator, List, Union

from .event import DEFAULT_EVENT_IDS, Event, ReadResult, ReadStats, RecordError
from .mapping import MappingError, bundled
from .normalize import to_cim, to_ecs
from .readers import read_paths
from .winlogbeat import to_winlogbeat

CONVERTERS: Dict[str, Callable[[Event], Dict[str, Any]]] = {
    "ecs": to_ecs,
    "cim": to_cim,
    "winlogbeat": to_winlogbeat,
}


class Summary:
    """What a run read, converted and skipped, and why."""

    def __init__(self) -> None:
        self.stats = ReadStats()
        self.converted = 0
        self.skipped: Counter = Counter()
        self.unreadable_files: List[str] = []
        self.failures = 0

    def record_error(self, error: RecordError) -> None:
        self.skipped[error.reason] += 1
        if error.fatal:
            self.unreadable_files.append(error.origin.path)
        self.failures += error.is_failure

    def lines(self) -> List[str]:
        other = {"other event id": self.stats.other_event_id} if self.stats.other_event_id else {}
        skipped = dict(self.skipped, **other)
        parts = ", ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items())) or "none"
        return [
            f"files: {self.stats.files}, records read: {self.stats.records}, converted: {self.converted}",
            f"skipped: {parts}",
        ]

    @property
    def failed(self) -> bool:
        """Some record or file could not be read or converted (exit status 1)."""
        return bool(self.failures)

    def merge(self, other: "Summary") -> None:
        """Add the counts of another run (a worker's) to this one."""
        for name in ReadStats.__slots__:
            setattr(self.stats, name, getattr(self.stats, name) + getattr(other.stats, name))
        self.converted += other.converted
        self.skipped.update(other.skipped)
        self.unreadable_files.extend(other.unreadable_files)
        self.failures += other.failures


def convert(
    paths: Iterable[str],
    target: str = "ecs",
    event_ids: frozenset = DEFAULT_EVENT_IDS,
    summary: Union[Summary, None] = None,
) -> Iterator[Union[Dict[str, Any], RecordError]]:
    """Yield one document per wanted event, and each RecordError where a record could not be used."""
    summary = summary if summary is not None else Summary()
    return convert_results(read_paths(paths, event_ids, summary.stats), target, summary)


def _converter(target: str) -> Callable[[Event], Dict[str, Any]]:
    """CONVERTERS[target], or for a bundled mapping its own apply (the same function, one call less per event)."""
    return bundled(target).apply if target in ("ecs", "cim") else CONVERTERS[target]


def convert_results(
    results: Iterable[ReadResult], target: str, summary: Summary
) -> Iterator[Union[Dict[str, Any], RecordError]]:
    """``convert`` over a stream of reader results (counted in ``summary.stats`` by the reader)."""
    to_document = _converter(target)
    for result in results:
        if isinstance(result, RecordError):
            summary.record_error(result)
            yield result
            continue
        try:
            document = to_document(result)
        except MappingError as error:
            failure = RecordError(result.origin, "mapping", str(error))
            summary.record_error(failure)
            yield failure
            continue
        summary.converted += 1
        yield document
