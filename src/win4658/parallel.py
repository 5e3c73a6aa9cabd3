"""``convert`` over many files in worker processes: each worker converts whole files, one at a time.

Each worker writes its documents to the output itself, in blocks of whole lines under a lock shared by all workers:
each file's documents in their own order, the files interleaving. Only counts, record errors and summaries come
back to the caller, through a bounded queue, so memory stays flat however large the input.
"""

import multiprocessing
import os
import traceback
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Union

from .convert import Summary, convert_results
from .event import DEFAULT_EVENT_IDS, RecordError
from .readers import input_files, read_file

BUFFER_BYTES = 1 << 20  # a worker's output buffer: whole lines, written when the next would not fit
QUEUED_MESSAGES_PER_WORKER = 8
STDOUT = "-"
Serializer = Callable[[Any], bytes]  # a document → one NDJSON line, its newline included


class Written(NamedTuple):
    """A worker wrote this many documents to the output."""

    documents: int


class WorkerFailed(RuntimeError):
    """A worker process raised: its traceback is the message."""


def convert_in_workers(
    paths: Iterable[str],
    output: str,
    serialize: Serializer,
    workers: int,
    target: str = "ecs",
    event_ids: frozenset = DEFAULT_EVENT_IDS,
    summary: Union[Summary, None] = None,
) -> Iterator[Union[Written, RecordError]]:
    """Convert into ``output`` (an existing file, appended to, or "-" for standard output); yield what was written
    and each RecordError. ``summary`` receives every worker's counts."""
    summary = summary if summary is not None else Summary()
    tasks: Any = multiprocessing.Queue()
    results: Any = multiprocessing.Queue(maxsize=workers * QUEUED_MESSAGES_PER_WORKER)
    output_lock = multiprocessing.Lock()
    for task in input_files(paths):
        tasks.put(task)
    for _ in range(workers):
        tasks.put(None)
    processes = [
        multiprocessing.Process(
            target=_work, daemon=True, args=(tasks, results, output, output_lock, serialize, target, event_ids)
        )
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        yield from _collect(results, workers, summary)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _collect(results: Any, workers: int, summary: Summary) -> Iterator[Union[Written, RecordError]]:
    running = workers
    while running:
        kind, payload = results.get()
        if kind == "exit":
            running -= 1
        elif kind == "summary":
            summary.merge(payload)
        elif kind == "failed":
            raise WorkerFailed(payload)
        elif kind == "output closed":
            raise BrokenPipeError("the reader of the output closed it")
        else:
            yield payload


def _work(
    tasks: Any, results: Any, output: str, output_lock: Any, serialize: Serializer, target: str, event_ids: frozenset
) -> None:
    try:
        sink = _Sink(output, output_lock, results)
        try:
            for task in iter(tasks.get, None):
                summary = Summary()
                _convert_file(read_file(task, event_ids, summary.stats), sink, results, serialize, target, summary)
                results.put(("summary", summary))
            sink.flush()
        finally:
            sink.close()
    except BrokenPipeError:  # the reader went away (`| head`): the caller stops as a single process would
        results.put(("output closed", None))
    except Exception:  # noqa: BLE001 - the caller re-raises it with the worker's traceback
        results.put(("failed", traceback.format_exc()))
    results.put(("exit", None))


def _convert_file(
    read_results: Iterable, sink: "_Sink", results: Any, serialize: Serializer, target: str, summary: Summary
) -> None:
    add = sink.add
    for item in convert_results(read_results, target, summary):
        if item.__class__ is dict:
            add(serialize(item))
        else:
            results.put(("error", item))


class _Sink:
    """A worker's end of the output: standard output as inherited, or the output file opened for appending, so
    that every write lands after the other workers'. Lines gather in one buffer allocated once (a new block each
    time made the heap shrink and grow again: 28,000 page faults per 64 MiB file) and go out whole, under the lock."""

    def __init__(self, output: str, lock: Any, results: Any):
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0)
        self.descriptor = 1 if output == STDOUT else os.open(output, flags)
        self.lock = lock
        self.results = results
        self.buffer = bytearray(BUFFER_BYTES)
        self.used = 0
        self.documents = 0

    def add(self, line: bytes) -> None:
        end = self.used + len(line)
        if end > BUFFER_BYTES:
            self.flush()
            end = len(line)
            if end > BUFFER_BYTES:  # a document larger than the buffer goes out alone
                self._write(line, 1)
                return
        self.buffer[self.used : end] = line
        self.used = end
        self.documents += 1

    def flush(self) -> None:
        if self.documents:
            self._write(memoryview(self.buffer)[: self.used], self.documents)
            self.used = self.documents = 0

    def _write(self, data: Any, documents: int) -> None:
        pending = memoryview(data)
        with self.lock:
            while pending:  # a pipe may take less than asked
                pending = pending[os.write(self.descriptor, pending) :]
        self.results.put(("written", Written(documents)))

    def close(self) -> None:
        if self.descriptor != 1:
            os.close(self.descriptor)
