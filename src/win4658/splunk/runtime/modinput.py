"""The modular input win4658_files://<name>: event files (EVTX, event XML, JSON-lines) → XmlWinEventLog events.

Each file's events go out as the one-line XML Windows renders (sourcetype XmlWinEventLog, source
XmlWinEventLog:Security), so this add-on's knowledge and Splunk_TA_windows's apply as to native collection.
An event read from a file that already holds that one-line form (Splunk exports, `wevtutil qe /f:xml`) is sent
with the file's own bytes; every other form is rendered by render_event_xml.
A checkpoint is saved after every BATCH events and at the end of each file, always after the events were
flushed to stdout: a kill -9 sends at most the events since the last save again; SIGTERM stops after the
current event and saves first, so nothing is sent twice. A run holds the input's lock (a second instance waits),
and saves its checkpoint before sending anything: a checkpoint that cannot be written stops the run, once logged,
since whatever it sent could not be recorded. A record that cannot be sent is reported and skipped.
"""

import os
import signal
import time
from types import FrameType
from typing import BinaryIO, Dict, Iterable, Iterator, List, Optional, Tuple

from splunklib.modularinput import (
    Argument,
    EventWriter,
    InputDefinition,
    Scheme,
    Script,
    ValidationDefinition,
)
from splunklib.modularinput import (
    Event as SplunkEvent,
)

from ...event import Event, ReadResult, ReadStats, RecordError
from ...readers import read_path, read_stream
from .checkpoint import CheckpointStore, CorruptCheckpoint, FileState, InputLock, make_private_directory
from .original import OriginalXml, plain_text_kind
from .parameters import DEFAULT_EVENT_IDS, check_parameters, discover, is_true, parse_event_ids
from .render import render_event_xml

BATCH = 200
DEFAULT_SOURCETYPE = "XmlWinEventLog"
LOCK_WAIT_SECONDS, LOCK_POLL_SECONDS = 60.0, 0.2
SAY_HOW = {
    "renamed": "renamed file, continuing",
    "truncated": "truncated: read again from the start",
    "rewritten": "changed before the position read: read again from the start "
    "(events already sent from it may be sent again)",
}


class StopFlag:
    """Set by SIGTERM: the input finishes the event in hand, saves its checkpoint and exits."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, _signum: int, _frame: Optional[FrameType]) -> None:
        self.requested = True


def build_scheme() -> Scheme:
    scheme = Scheme("Windows event files (win4658)")
    scheme.description = (
        "Reads Windows Security events 4658/4656/4663/4690 from EVTX, event XML and JSON-lines files "
        "and indexes them as XmlWinEventLog, the form native collection produces."
    )
    scheme.use_external_validation = True
    scheme.use_single_instance = False
    scheme.streaming_mode = Scheme.streaming_mode_xml
    scheme.add_argument(
        Argument(
            "path",
            title="Path",
            required_on_create=True,
            description="A directory, a file or a glob pattern (** with recursive).",
        )
    )
    scheme.add_argument(
        Argument(
            "recursive",
            title="Recursive",
            data_type=Argument.data_type_boolean,
            description="Read sub-directories too (default false).",
        )
    )
    scheme.add_argument(
        Argument(
            "event_ids",
            title="Event ids",
            description=f"Comma-separated event ids to read (default {DEFAULT_EVENT_IDS}).",
        )
    )
    return scheme


class FileReader:
    """One input run over its files: sends new events, keeps the checkpoint, logs what it skipped and why."""

    def __init__(self, name: str, parameters: Dict[str, str], checkpoint_dir: str, writer: EventWriter, stop: StopFlag):
        self.name = name
        self.parameters = parameters
        self.writer = writer
        self.stop = stop
        self.event_ids = parse_event_ids(parameters.get("event_ids") or DEFAULT_EVENT_IDS)
        self.store = CheckpointStore.for_input(checkpoint_dir, name)
        self.lock = InputLock(self.store)
        self.sent = 0
        self.saving_failed = False

    def log(self, severity: str, message: str) -> None:
        self.writer.log(severity, f"win4658_files://{self.name}: {message}")

    def run(self) -> None:
        try:
            if self._prepare():
                self._read_files()
        finally:
            self.lock.release()

    def _prepare(self) -> bool:
        """Hold the input's lock and load its checkpoint; False (logged) when this run must read nothing."""
        try:
            if not self._take_lock():
                return False
            self.store.remove_temporary_files()
            self._load_checkpoint()
            return True
        except OSError as error:  # the checkpoint directory, the lock or a leftover cannot be written
            self._cannot_save(error)
            return False

    def _take_lock(self) -> bool:
        """Wait (up to LOCK_WAIT_SECONDS) while another instance of this input reads with the same checkpoint."""
        make_private_directory(self.store.directory)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        waiting = False
        while not self.lock.try_acquire():
            if self.stop.requested or time.monotonic() > deadline:
                self.log(
                    EventWriter.WARN,
                    f"another instance of this input still holds {self.lock.path}: "
                    "this run reads nothing, the next one will",
                )
                return False
            if not waiting:
                self.log(EventWriter.INFO, "another instance of this input is running: waiting for it")
                waiting = True
            time.sleep(LOCK_POLL_SECONDS)
        return True

    def _read_files(self) -> None:
        try:
            listed = discover(self.parameters["path"], is_true(self.parameters.get("recursive")))
        except OSError as error:
            self.log(EventWriter.ERROR, f"{self.parameters['path']}: cannot be listed ({error})")
            return
        readable, unreadable = _readable(listed)
        for path, reason in unreadable.items():
            self.log(EventWriter.WARN, f"{path}: cannot be read ({reason}); tried again on the next run")
        matched = self.store.match(readable, keep=unreadable)
        if not self._save(room=True):  # before anything is sent: nothing is sent that could not be recorded
            return
        for path, state, how in matched:
            if how in SAY_HOW:
                self.log(EventWriter.INFO if how == "renamed" else EventWriter.WARN, f"{path}: {SAY_HOW[how]}")
            if not self._read_file_guarded(path, state):
                break
        if not self.saving_failed and self._save():
            self.log(
                EventWriter.INFO,
                f"sent {self.sent} events from {len(readable)} files"
                + (" (stopped by SIGTERM)" if self.stop.requested else ""),
            )

    def _read_file_guarded(self, path: str, state: FileState) -> bool:
        """Read one file; a fault in it is reported and the next file is read. False when the run must stop."""
        try:
            return self._read_file(path, state)
        except OSError as error:  # removed or made unreadable while we were at it: the next run decides
            self.log(EventWriter.WARN, f"{path}: {error}")
        except Exception as error:  # noqa: BLE001  (a reader fault must not stop the other files)
            self.log(
                EventWriter.ERROR,
                f"{path}: reading stopped after the last event sent ({_describe(error)}); "
                "the rest of the file is tried again on the next run",
            )
        return not self.saving_failed

    def _load_checkpoint(self) -> None:
        try:
            self.store.load()
        except CorruptCheckpoint as error:
            kept = self.store.set_aside()
            self.log(
                EventWriter.ERROR,
                f"checkpoint unreadable ({error}); kept as {kept}; "
                "files are read from the start, so events already indexed may be sent again",
            )

    def _save(self, room: bool = False) -> bool:
        try:
            self.store.save(room)
            return True
        except OSError as error:
            self._cannot_save(error)
            return False

    def _cannot_save(self, error: OSError) -> None:
        """Stop the run: whatever is sent from now on could not be recorded, so it would be sent again."""
        self.saving_failed = True
        resent = f"; up to {BATCH} of the {self.sent} events sent in this run will be sent again" if self.sent else ""
        self.log(
            EventWriter.ERROR,
            f"cannot write the checkpoint in {self.store.directory} "
            f"({error.strerror or error}): nothing more is read until it can be written{resent}",
        )

    def _read_file(self, path: str, state: FileState) -> bool:
        """Send the file's events after the checkpoint; False when the run must stop."""
        status = os.stat(path)
        if state.unchanged(status.st_size, status.st_mtime):
            return True
        kind = plain_text_kind(path)
        original = OriginalXml(path, kind)
        try:
            return self._send_new_events(path, state, status, kind, original)
        finally:
            original.close()

    def _send_new_events(
        self, path: str, state: FileState, status: os.stat_result, kind: Optional[str], original: OriginalXml
    ) -> bool:
        unsaved = 0
        complete = True
        for sequence, offset, result in self._new_results(path, state, kind):
            if isinstance(result, RecordError):
                self.log(EventWriter.ERROR if result.fatal else EventWriter.WARN, str(result))
                complete = complete and not result.fatal  # an unreadable file is tried again next time
                continue
            if self.stop.requested:
                return False
            self._send(result, original.text_at(offset))
            unsaved += 1
            state.position = sequence if sequence is not None else state.position
            state.offset = offset if offset is not None else state.offset
            if unsaved >= BATCH:
                if not self._save_file(path, state, kind, status):
                    return False
                unsaved = 0
        if self.stop.requested:
            return False
        if complete:
            state.size, state.mtime = status.st_size, status.st_mtime
        return self._save_file(path, state, kind, status)

    def _send(self, event: Event, original_xml: Optional[str]) -> None:
        """Write one event; one that cannot be written is reported with its file and record, and skipped."""
        try:
            self.writer.write_event(self._splunk_event(event, original_xml))
            self.sent += 1
        except Exception as error:  # noqa: BLE001  (one poison record must never stop the input)
            self.log(EventWriter.ERROR, f"{event.origin}: cannot be sent ({_describe(error)}); skipped")

    def _save_file(self, path: str, state: FileState, kind: Optional[str], status: os.stat_result) -> bool:
        """Save, with the mark of where this file was read to: its last sent record, or its end (not EVTX)."""
        if kind is not None:
            state.set_mark(path, state.offset)
        elif not state.is_evtx:
            state.set_mark(path, status.st_size)
        return self._save()

    def _new_results(
        self, path: str, state: FileState, kind: Optional[str]
    ) -> Iterator[Tuple[Optional[int], Optional[int], ReadResult]]:
        """(sequence, file offset, result) after the last sent record: read on from its offset in a plain text
        file, else counted from the start (sequence is None when reading on from an offset)."""
        if kind is not None and state.offset >= 0:
            resumed = self._after_offset(path, state.offset)
            if resumed is not None:
                yield from resumed
                return
            self.log(
                EventWriter.WARN,
                f"{path}: the record at byte {state.offset} is not the one sent last: "
                f"counting records from the start instead (events sent since may be sent again)",
            )
        for sequence, result in enumerate(read_path(path, self.event_ids), 1):
            if sequence > state.position:
                offset = result.origin.offset if kind is not None else None
                yield sequence, offset, result

    def _after_offset(self, path: str, offset: int) -> Optional[Iterator[Tuple[None, Optional[int], ReadResult]]]:
        """The results after the record at ``offset`` (which was sent), or None when no event starts there."""
        stream = open(path, "rb")
        stream.seek(offset)
        results = read_stream(stream, path, self.event_ids, ReadStats())
        first = next(results, None)
        if not (isinstance(first, Event) and first.origin.offset == 0):
            stream.close()
            return None
        return _with_file_offsets(results, offset, stream)

    def _splunk_event(self, event: Event, original_xml: Optional[str]) -> SplunkEvent:
        nanoseconds = event.time_ns()
        return SplunkEvent(
            data=original_xml or render_event_xml(event),
            time=None if nanoseconds is None else f"{nanoseconds / 1e9:.3f}",
            host=event.system.get("Computer") or self.parameters.get("host"),
            index=self.parameters.get("index"),
            source=f"XmlWinEventLog:{event.system.get('Channel') or 'Security'}",
            sourcetype=self.parameters.get("sourcetype") or DEFAULT_SOURCETYPE,
            stanza=f"win4658_files://{self.name}",
        )


def _readable(paths: Iterable[str]) -> Tuple[List[str], Dict[str, str]]:
    """The non-empty files that can be opened, and the error of each that cannot (a file that vanished is left out)."""
    readable, unreadable = [], {}
    for path in paths:
        try:
            with open(path, "rb") as stream:
                if os.fstat(stream.fileno()).st_size:
                    readable.append(path)
        except FileNotFoundError:
            continue
        except OSError as error:
            unreadable[path] = error.strerror or str(error)
    return readable, unreadable


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _with_file_offsets(
    results: Iterator[ReadResult], base: int, stream: BinaryIO
) -> Iterator[Tuple[None, Optional[int], ReadResult]]:
    with stream:
        for result in results:
            offset = result.origin.offset
            yield None, (None if offset is None else base + offset), result


class FilesInput(Script):
    """The splunklib Script that splunkd runs: --scheme, --validate-arguments, or streaming."""

    def get_scheme(self) -> Scheme:
        return build_scheme()

    def validate_input(self, definition: ValidationDefinition) -> None:
        check_parameters(definition.parameters)

    def stream_events(self, inputs: InputDefinition, ew: EventWriter) -> None:
        stop = StopFlag()
        stop.install()
        checkpoint_dir = inputs.metadata["checkpoint_dir"]
        for stanza, parameters in inputs.inputs.items():
            if stop.requested:
                break
            name = stanza.split("://", 1)[-1]
            FileReader(name, parameters, checkpoint_dir, ew, stop).run()
