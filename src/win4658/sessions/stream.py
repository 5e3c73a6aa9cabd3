"""The handle sessions of event files, streaming: hunt's pipeline (reading, the log's order, HandleTracker)
with no detection, each handle's record given as it ends. Memory is bounded by the open handles and the
re-ordering window."""

from functools import cached_property
from typing import Any, Dict, Iterable, Iterator, Union

from ..detections.lifetime import Lifetime
from ..detections.local_hunt import Hunt
from ..event import Origin, RecordError
from .record import session_record


def ended_handles(paths: Iterable[str], hunt: Hunt) -> Iterator[Union[Lifetime, RecordError]]:
    """Each handle's Lifetime as it ends (and RecordErrors); ``hunt`` made with ``sessions=True``."""
    for item in hunt.run(paths):
        if isinstance(item, (Lifetime, RecordError)):
            yield item


def handle_sessions(paths: Iterable[str], hunt: Hunt) -> Iterator[Union[Dict[str, Any], RecordError]]:
    """One canonical session record per handle (and RecordErrors)."""
    for item in ended_handles(paths, hunt):
        yield session_record(item) if isinstance(item, Lifetime) else item


def session_origin(lifetime: Lifetime) -> Origin:
    """Where a session's last event was read: its close, else its open."""
    return lifetime.closed.origin if lifetime.closed is not None else lifetime.opened.origin


class EndedSession:
    """A handle as it ended, given to each of hunt's outputs: its record and origin are made once, when one asks
    (hunt's JSON lines are built from the lifetime itself: sessions/line.py)."""

    def __init__(self, lifetime: Lifetime):
        self.lifetime = lifetime

    @cached_property
    def record(self) -> Dict[str, Any]:
        return session_record(self.lifetime)

    @cached_property
    def origin(self) -> Origin:
        return session_origin(self.lifetime)


def session_hunt(window: int, max_open_handles: int) -> Hunt:
    """A hunt that runs no detection and gives the sessions; its summary counts the pairing."""
    return Hunt(detections=[], window=window, max_open_handles=max_open_handles, sessions=True)
