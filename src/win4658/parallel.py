"""``convert`` over many files in worker processes: each worker converts whole files, one at a time.

Documents come back serialized, in blocks, each file's documents in their own order; the files themselves
interleave. The queue back to the caller is bounded, so memory stays flat however large the input.
"""
import multiprocessing
import traceback
from typing import Any, Callable, Iterable, Iterator, List, NamedTuple, Union

from .convert import Summary, convert_results
from .event import DEFAULT_EVENT_IDS, RecordError
from .readers import input_files, read_file

BLOCK_DOCUMENTS = 500  # documents per block sent back to the caller
QUEUED_BLOCKS_PER_WORKER = 8
Serializer = Callable[[Any], bytes]  # a document → one NDJSON line, its newline included


class Block(NamedTuple):
    """Serialized documents, one per line, each ending with a newline."""

    ndjson: bytes
    documents: int


class WorkerFailed(RuntimeError):
    """A worker process raised: its traceback is the message."""


def convert_in_workers(paths: Iterable[str], serialize: Serializer, workers: int, target: str = "ecs",
                       event_ids: frozenset = DEFAULT_EVENT_IDS, summary: Union[Summary, None] = None,
                       ) -> Iterator[Union[Block, RecordError]]:
    """Yield Blocks of documents and each RecordError; ``summary`` receives every worker's counts."""
    summary = summary if summary is not None else Summary()
    tasks: Any = multiprocessing.Queue()
    results: Any = multiprocessing.Queue(maxsize=workers * QUEUED_BLOCKS_PER_WORKER)
    for task in input_files(paths):
        tasks.put(task)
    for _ in range(workers):
        tasks.put(None)
    processes = [multiprocessing.Process(target=_work, args=(tasks, results, serialize, target, event_ids), daemon=True)
                 for _ in range(workers)]
    for process in processes:
        process.start()
    try:
        yield from _collect(results, workers, summary)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _collect(results: Any, workers: int, summary: Summary) -> Iterator[Union[Block, RecordError]]:
    running = workers
    while running:
        kind, payload = results.get()
        if kind == "exit":
            running -= 1
        elif kind == "summary":
            summary.merge(payload)
        elif kind == "failed":
            raise WorkerFailed(payload)
        else:
            yield payload


def _work(tasks: Any, results: Any, serialize: Serializer, target: str, event_ids: frozenset) -> None:
    try:
        for path, in_directory in iter(tasks.get, None):
            summary = Summary()
            _convert_file(read_file(path, in_directory, event_ids, summary.stats), results, serialize, target, summary)
            results.put(("summary", summary))
    except Exception:  # noqa: BLE001 - the caller re-raises it with the worker's traceback
        results.put(("failed", traceback.format_exc()))
    results.put(("exit", None))


def _convert_file(read_results: Iterable, results: Any, serialize: Serializer, target: str, summary: Summary) -> None:
    lines: List[bytes] = []
    for item in convert_results(read_results, target, summary):
        if isinstance(item, RecordError):
            _send(lines, results)
            results.put(("error", item))
            continue
        lines.append(serialize(item))
        if len(lines) == BLOCK_DOCUMENTS:
            _send(lines, results)
    _send(lines, results)


def _send(lines: List[bytes], results: Any) -> None:
    if lines:
        results.put(("block", Block(b"".join(lines), len(lines))))
        lines.clear()
