"""What the subcommands share: event-id options, NDJSON output, the progress line and the summary."""

import argparse
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from functools import partial
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..event import DEFAULT_EVENT_IDS, SUPPORTED_EVENT_IDS, ReadStats, RecordError
from ..readers import STDIN, file_identity, input_files


def _json_line(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


try:
    import orjson

    # A document as one line of NDJSON, newline included: orjson itself, no Python call per document
    ndjson_line: Callable[[Any], bytes] = partial(orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)
except ImportError:  # pragma: no cover - orjson is a dependency of the CLI; the Splunk app runs without it
    ndjson_line = _json_line


def add_event_id_option(parser: argparse.ArgumentParser, default: frozenset = DEFAULT_EVENT_IDS) -> None:
    parser.add_argument(
        "--event-id",
        dest="event_ids",
        action="append",
        type=_event_id,
        metavar="N",
        help=f"event id to read, repeatable (default: {', '.join(map(str, sorted(default)))}; "
        f"supported: {', '.join(map(str, sorted(SUPPORTED_EVENT_IDS)))})",
    )
    parser.set_defaults(default_event_ids=default)


def add_pairing_options(parser: argparse.ArgumentParser, used_with: str = "") -> None:
    """The two bounds of handle pairing (the re-ordering window, the open-handle table), for every command that
    pairs; ``used_with`` names the options that make it pair, when it does not always."""
    from ..detections.lifetime import DEFAULT_MAX_OPEN  # here: the commands that never pair do not load pairing
    from ..detections.timeline import DEFAULT_WINDOW

    when = f"{used_with}: " if used_with else ""
    parser.add_argument(
        "--reorder-window",
        type=whole_number(1),
        default=DEFAULT_WINDOW,
        metavar="EVENTS",
        help=f"{when}events held to restore the log's order (default {DEFAULT_WINDOW})",
    )
    parser.add_argument(
        "--max-open-handles",
        type=whole_number(1),
        default=DEFAULT_MAX_OPEN,
        metavar="N",
        help=f"{when}open handles remembered for pairing; past that the oldest is forgotten "
        f"(default {DEFAULT_MAX_OPEN})",
    )


def event_ids(args: argparse.Namespace) -> frozenset:
    return frozenset(args.event_ids) if args.event_ids else args.default_event_ids


def _event_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event id: {text!r}") from None
    if value not in SUPPORTED_EVENT_IDS:
        raise argparse.ArgumentTypeError(
            f"event id {value} is not supported (choose from {sorted(SUPPORTED_EVENT_IDS)})"
        )
    return value


def whole_number(least: int) -> Callable[[str], int]:
    """An option's parser for a count: a whole number of at least ``least``."""

    def parse(text: str) -> int:
        refused = argparse.ArgumentTypeError(f"expected a whole number of at least {least}, got {text!r}")
        try:
            value = int(text)
        except ValueError:
            raise refused from None
        if value < least:
            raise refused
        return value

    return parse


OUTPUT_BUFFER = 1 << 20  # bytes: with the default 8 KiB, the write system calls took twice the kernel time


@contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    """The file, or standard output for "-", written through a buffer of OUTPUT_BUFFER bytes (standard output's
    own is 8 KiB, and none at all under PYTHONUNBUFFERED: a system call per line); flushed at the end, standard
    output left open."""
    if path != "-":
        with open(path, "wb", buffering=OUTPUT_BUFFER) as output:
            yield output
        return
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a standard output with no file behind it (a test's capture)
        yield sys.stdout.buffer
        return
    sys.stdout.flush()
    with open(descriptor, "wb", buffering=OUTPUT_BUFFER, closefd=False) as output:
        yield output


class Progress:
    """A one-line count on stderr while a long run goes on, only when stderr is a terminal.

    A thread redraws it (after ``delay`` seconds, then every ``interval``), so the loop that reads pays one
    addition per item; with ``stats`` it shows the records and files read, else what ``tick`` counted. Errors go
    through ``error``, which clears the line first, so they never run into it.
    """

    def __init__(
        self,
        label: str,
        stats: Optional[ReadStats] = None,
        stream: Optional[IO[str]] = None,
        delay: float = 1.0,
        interval: float = 0.2,
    ):
        self.label = label
        self.stats = stats
        self.stream = stream = stream if stream is not None else sys.stderr
        self.enabled = stream.isatty()
        self.count = 0
        self.started = time.monotonic()
        self.shown = False
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._redraw, args=(delay, interval), daemon=True)
        if self.enabled:
            self.thread.start()

    def tick(self, count: int = 1) -> None:
        self.count += count

    def line(self) -> str:
        rate_of = max(time.monotonic() - self.started, 1e-9)
        if self.stats is None:
            return f"{self.label}: {self.count:,} ({self.count / rate_of:,.0f}/s)"
        records, files = self.stats.records, self.stats.files
        return f"{self.label}: {records:,} records, {files:,} files ({records / rate_of:,.0f} records/s)"

    def _redraw(self, delay: float, interval: float) -> None:
        if self.stopped.wait(delay):
            return
        while True:
            with self.lock:
                self.stream.write(f"\r\033[K{self.line()}")
                self.stream.flush()
                self.shown = True
            if self.stopped.wait(interval):
                return

    def _clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False

    def error(self, message: object) -> None:
        """An error line on stderr, on a line of its own."""
        with self.lock:
            self._clear()
            print(f"win4658: {message}", file=self.stream, flush=True)

    def close(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        with self.lock:
            self._clear()


def report_error(error: RecordError) -> None:
    print(f"win4658: {error}", file=sys.stderr)


def print_lines(lines: List[str], write: Callable[[str], Any] = lambda line: print(line, file=sys.stderr)) -> None:
    for line in lines:
        write(line)


def missing_paths(paths: List[str]) -> List[str]:
    """The paths that do not exist, each named on stderr: a usage error, for which nothing is read. A directory holding
    no file is named as a warning."""
    missing = [path for path in paths if path != STDIN and not os.path.exists(path)]
    for path in missing:
        print(f"win4658: {path}: no such file or directory", file=sys.stderr)
    for path in paths:
        if os.path.isdir(path) and next(input_files([path]), None) is None:
            print(f"win4658: {path}: the directory holds no files", file=sys.stderr)
    return missing


def refused_outputs(outputs: Sequence[Tuple[Optional[str], str]], inputs: List[str]) -> List[str]:
    """The outputs (path, what it is) a run may not write, each named on stderr with why: a usage error, for which
    nothing is read or written. An output may not be an input, nor lie inside a directory given as an input (walked
    while the run writes: the run, or a later one, would read it back) or be listed there under another name (a
    link to it), nor be another output. Devices (/dev/null, /dev/stdout, a FIFO) and standard output ("-") hold
    nothing to lose: never refused, but for "-" given twice. An output of None is not written."""
    written = [(path, what) for path, what in outputs if path is not None]
    files = OutputFiles([path for path, _what in written])
    problems = []
    for index, (path, what) in enumerate(written):
        problem = files.input_problem(index, inputs) or next(
            (
                f"cannot also be {written[other][1]}"
                for other in range(index + 1, len(written))
                if files.same_output(index, other)
            ),
            None,
        )
        if problem is not None:
            problems.append(f"{path}: {what} {problem}")
    for problem in problems:
        print(f"win4658: {problem}", file=sys.stderr)
    return problems


STREAM_PATHS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")  # the run's own streams, wherever they go


def stream_or_device(path: str) -> bool:
    """Standard output, one of the run's streams, or a path that is no regular file to write."""
    if path == "-" or os.path.abspath(path).startswith(STREAM_PATHS):
        return True
    return os.path.exists(path) and not os.path.isfile(path)


READ_BACK = "an input directory: the run (or a later one) would read it back"


class OutputFiles:
    """The outputs that are files (not streams or devices), by their real path and, when they exist, their identity;
    each input directory is walked once, for all of them."""

    def __init__(self, paths: List[str]):
        self.paths = paths
        self.files = [
            None if stream_or_device(path) else (os.path.realpath(path), file_identity(path))  # no identity: not yet
            for path in paths
        ]
        self.other_names: Dict[str, List[Optional[str]]] = {}  # input directory → each output's other name in it

    def same_output(self, index: int, other: int) -> bool:
        """Two outputs that are one file: one path, one real path, or two names of one existing file (a hard link);
        standard output given twice too."""
        output, other_output = self.files[index], self.files[other]
        if output is None or other_output is None:
            return self.paths[index] == "-" and self.paths[other] == "-"
        return output[0] == other_output[0] or (output[1] is not None and output[1] == other_output[1])

    def input_problem(self, index: int, inputs: List[str]) -> Optional[str]:
        output = self.files[index]
        if output is None:
            return None
        real_path, identity = output
        for given in inputs:
            if given == STDIN:
                continue
            if identity is not None and file_identity(given) == identity:
                return "would overwrite an input"
            if not os.path.isdir(given):
                continue
            if _inside(real_path, os.path.realpath(given)):
                return f"lies inside {given}, {READ_BACK}"
            other_name = self._other_names_inside(given)[index]
            if other_name is not None:
                return f"is also {other_name}, inside {given}, {READ_BACK}"
        return None

    def _other_names_inside(self, directory: str) -> List[Optional[str]]:
        """For each output, a file the run reads in ``directory`` (input_files: what the walk lists) that is the
        output under another name: a hard or symbolic link to it when it exists, a symbolic link that would reach it
        once written when not."""
        if directory not in self.other_names:
            found: List[Optional[str]] = [None] * len(self.files)
            for item in input_files([directory]):
                if item.problem is None:
                    self._note_other_name(item.path, found)
            self.other_names[directory] = found
        return self.other_names[directory]

    def _note_other_name(self, listed: str, found: List[Optional[str]]) -> None:
        listed_identity = None
        for index, output in enumerate(self.files):
            if output is None or found[index] is not None:
                continue
            real_path, identity = output
            if identity is not None:
                listed_identity = listed_identity or file_identity(listed)
                if listed_identity == identity:
                    found[index] = listed
            elif os.path.islink(listed) and os.path.realpath(listed) == real_path:
                found[index] = listed


def _inside(path: str, directory: str) -> bool:
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:  # on Windows, paths on two drives
        return False
