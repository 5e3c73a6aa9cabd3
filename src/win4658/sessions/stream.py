"""The handle sessions of event files, streaming: hunt's pipeline (reading, the log's order, HandleTracker)
with no detection, each handle's record given as it ends. Memory is bounded by the open handles and the
re-ordering window."""
from typing import Any, Dict, Iterable, Iterator, Union

from ..detections.hunt import Hunt
from ..detections.lifetime import Lifetime
from ..event import RecordError
from .record import session_record


def handle_sessions(paths: Iterable[str], hunt: Hunt) -> Iterator[Union[Dict[str, Any], RecordError]]:
    """One canonical session record per handle (and RecordErrors); ``hunt`` made with ``sessions=True``."""
    for item in hunt.run(paths):
        if isinstance(item, Lifetime):
            yield session_record(item)
        elif isinstance(item, RecordError):
            yield item


def session_hunt(window: int, max_open_handles: int) -> Hunt:
    """A hunt that runs no detection and gives the sessions; its summary counts the pairing."""
    return Hunt(detections=[], window=window, max_open_handles=max_open_handles, sessions=True)
