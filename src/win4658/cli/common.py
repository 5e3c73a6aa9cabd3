"""What the subcommands share: event-id options, NDJSON output, the progress line and the summary."""
import argparse
import json
import sys
import time
from typing import IO, Any, Callable, List

from ..event import DEFAULT_EVENT_IDS, SUPPORTED_EVENT_IDS, RecordError

try:
    import orjson

    def ndjson_line(document: Any) -> bytes:
        """The document as one line of NDJSON, newline included."""
        return orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE)
except ImportError:  # pragma: no cover - orjson is a dependency of the CLI; the Splunk app runs without it
    def ndjson_line(document: Any) -> bytes:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def add_event_id_option(parser: argparse.ArgumentParser, default: frozenset = DEFAULT_EVENT_IDS) -> None:
    parser.add_argument(
        "--event-id", dest="event_ids", action="append", type=_event_id, metavar="N",
        help=f"event id to read, repeatable (default: {', '.join(map(str, sorted(default)))}; "
             f"supported: {', '.join(map(str, sorted(SUPPORTED_EVENT_IDS)))})",
    )
    parser.set_defaults(default_event_ids=default)


def event_ids(args: argparse.Namespace) -> frozenset:
    return frozenset(args.event_ids) if args.event_ids else args.default_event_ids


def _event_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an event id: {text!r}") from None
    if value not in SUPPORTED_EVENT_IDS:
        raise argparse.ArgumentTypeError(
            f"event id {value} is not supported (choose from {sorted(SUPPORTED_EVENT_IDS)})")
    return value


OUTPUT_BUFFER = 1 << 20  # bytes: with the default 8 KiB, the write system calls took twice the kernel time


def open_output(path: str) -> IO[bytes]:
    return sys.stdout.buffer if path == "-" else open(path, "wb", buffering=OUTPUT_BUFFER)


class Progress:
    """A one-line counter on stderr, only when stderr is a terminal; redrawn at most 5 times a second."""

    def __init__(self, label: str, stream: IO[str] = sys.stderr):
        self.label = label
        self.stream = stream
        self.enabled = stream.isatty()
        self.count = 0
        self.started = self.last = time.monotonic()

    def tick(self, count: int = 1) -> None:
        self.count += count
        if self.enabled and self.count % 1000 == 0:
            now = time.monotonic()
            if now - self.last >= 0.2:
                self.last = now
                rate = self.count / max(now - self.started, 1e-9)
                self.stream.write(f"\r{self.label}: {self.count:,} ({rate:,.0f}/s)")
                self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def report_error(error: RecordError) -> None:
    print(f"win4658: {error}", file=sys.stderr)


def print_lines(lines: List[str], write: Callable[[str], Any] = lambda line: print(line, file=sys.stderr)) -> None:
    for line in lines:
        write(line)
