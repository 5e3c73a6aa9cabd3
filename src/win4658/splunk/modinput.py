"""The modular input win4658_files://<name>: event files (EVTX, event XML, JSON-lines) → XmlWinEventLog events.

Each file's events go out as the one-line XML Windows renders (sourcetype XmlWinEventLog, source
XmlWinEventLog:Security), so this add-on's knowledge and Splunk_TA_windows's apply as to native collection.
An event read from a file that already holds that one-line form (Splunk exports, `wevtutil qe /f:xml`) is sent
with the file's own bytes; every other form is rendered by render_event_xml.
A checkpoint is saved after every BATCH events and at the end of each file, always after the events were
flushed to stdout: a kill -9 sends at most the events since the last save again; SIGTERM stops after the
current event and saves first, so nothing is sent twice.
"""
import os
import signal
from typing import BinaryIO, Dict, Iterator, Optional, Tuple

from splunklib.modularinput import Argument, Event as SplunkEvent, EventWriter, Scheme, Script

from ..event import Event, ReadResult, ReadStats, RecordError
from ..readers import read_path, read_stream
from .checkpoint import CheckpointStore, CorruptCheckpoint, FileState
from .original import OriginalXml, plain_text_kind
from .parameters import DEFAULT_EVENT_IDS, check_parameters, discover, file_size, is_true, parse_event_ids
from ..times import time_ns
from .render import render_event_xml

BATCH = 200
DEFAULT_SOURCETYPE = "XmlWinEventLog"


class StopFlag:
    """Set by SIGTERM: the input finishes the event in hand, saves its checkpoint and exits."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, _signum, _frame) -> None:
        self.requested = True


def build_scheme() -> Scheme:
    scheme = Scheme("Windows event files (win4658)")
    scheme.description = ("Reads Windows Security events 4658/4656/4663/4690 from EVTX, event XML and JSON-lines files "
                          "and indexes them as XmlWinEventLog, the form native collection produces.")
    scheme.use_external_validation = True
    scheme.use_single_instance = False
    scheme.streaming_mode = Scheme.streaming_mode_xml
    scheme.add_argument(Argument("path", title="Path", required_on_create=True,
                                 description="A directory, a file or a glob pattern (** with recursive)."))
    scheme.add_argument(Argument("recursive", title="Recursive", data_type=Argument.data_type_boolean,
                                 description="Read sub-directories too (default false)."))
    scheme.add_argument(Argument("event_ids", title="Event ids",
                                 description=f"Comma-separated event ids to read (default {DEFAULT_EVENT_IDS})."))
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
        self.sent = 0

    def log(self, severity: str, message: str) -> None:
        self.writer.log(severity, f"win4658_files://{self.name}: {message}")

    def run(self) -> None:
        self._load_checkpoint()
        files = [path for path in discover(self.parameters["path"], is_true(self.parameters.get("recursive")))
                 if file_size(path)]
        for path, state, how in self.store.match(files):
            if how in ("renamed", "truncated"):
                self.log(EventWriter.WARN if how == "truncated" else EventWriter.INFO,
                         f"{path}: {'truncated: read again from the start' if how == 'truncated' else 'renamed file, continuing'}")
            try:
                if not self._read_file(path, state):
                    break
            except OSError as error:  # removed or made unreadable while we were at it: the next run decides
                self.log(EventWriter.WARN, f"{path}: {error}")
        self.store.save()
        self.log(EventWriter.INFO, f"sent {self.sent} events from {len(files)} files"
                 + (" (stopped by SIGTERM)" if self.stop.requested else ""))

    def _load_checkpoint(self) -> None:
        try:
            self.store.load()
        except CorruptCheckpoint as error:
            kept = self.store.set_aside()
            self.log(EventWriter.ERROR, f"checkpoint unreadable ({error}); kept as {kept}; "
                     "files are read from the start, so events already indexed may be sent again")

    def _read_file(self, path: str, state: FileState) -> bool:
        """Send the file's events after the checkpoint; False when a stop was requested."""
        status = os.stat(path)
        if state.unchanged(status.st_size, status.st_mtime):
            return True
        kind = plain_text_kind(path)
        original = OriginalXml(path, kind)
        try:
            return self._send_new_events(path, state, status, kind, original)
        finally:
            original.close()

    def _send_new_events(self, path: str, state: FileState, status: os.stat_result, kind: Optional[str],
                         original: OriginalXml) -> bool:
        unsaved = 0
        complete = True
        for sequence, offset, result in self._new_results(path, state, kind):
            if isinstance(result, RecordError):
                self.log(EventWriter.ERROR if result.fatal else EventWriter.WARN, str(result))
                complete = complete and not result.fatal  # an unreadable file is tried again next time
                continue
            if self.stop.requested:
                return False
            self.writer.write_event(self._splunk_event(result, original.text_at(offset)))
            self.sent += 1
            unsaved += 1
            state.position = sequence if sequence is not None else state.position
            state.offset = offset if offset is not None else state.offset
            if unsaved >= BATCH:
                self.store.save()
                unsaved = 0
        if self.stop.requested:
            return False
        if complete:
            state.size, state.mtime = status.st_size, status.st_mtime
        self.store.save()
        return True

    def _new_results(self, path: str, state: FileState,
                     kind: Optional[str]) -> Iterator[Tuple[Optional[int], Optional[int], ReadResult]]:
        """(sequence, file offset, result) after the last sent record: read on from its offset in a plain text
        file, else counted from the start (sequence is None when reading on from an offset)."""
        if kind is not None and state.offset >= 0:
            resumed = self._after_offset(path, state.offset)
            if resumed is not None:
                yield from resumed
                return
            self.log(EventWriter.WARN, f"{path}: the record at byte {state.offset} is not the one sent last: "
                     f"counting records from the start instead (events sent since may be sent again)")
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
        nanoseconds = time_ns(event.system.get("TimeCreated"))
        return SplunkEvent(
            data=original_xml or render_event_xml(event),
            time=None if nanoseconds is None else f"{nanoseconds / 1e9:.3f}",
            host=event.system.get("Computer") or self.parameters.get("host"),
            index=self.parameters.get("index"),
            source=f"XmlWinEventLog:{event.system.get('Channel') or 'Security'}",
            sourcetype=self.parameters.get("sourcetype") or DEFAULT_SOURCETYPE,
            stanza=f"win4658_files://{self.name}",
        )


def _with_file_offsets(results: Iterator[ReadResult], base: int,
                       stream: BinaryIO) -> Iterator[Tuple[None, Optional[int], ReadResult]]:
    with stream:
        for result in results:
            offset = result.origin.offset
            yield None, (None if offset is None else base + offset), result


class FilesInput(Script):
    """The splunklib Script that splunkd runs: --scheme, --validate-arguments, or streaming."""

    def get_scheme(self) -> Scheme:
        return build_scheme()

    def validate_input(self, definition) -> None:
        check_parameters(definition.parameters)

    def stream_events(self, inputs, ew: EventWriter) -> None:
        stop = StopFlag()
        stop.install()
        checkpoint_dir = inputs.metadata["checkpoint_dir"]
        for stanza, parameters in inputs.inputs.items():
            if stop.requested:
                break
            name = stanza.split("://", 1)[-1]
            FileReader(name, parameters, checkpoint_dir, ew, stop).run()
