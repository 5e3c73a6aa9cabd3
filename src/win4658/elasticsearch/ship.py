"""`win4658 es ship`: any input form → Winlogbeat-shaped documents → streaming bulk through the pipeline.

Each document's ``_id`` is a digest of its content, so shipping the same file twice does not duplicate events.
"""
import hashlib
import json
from collections import defaultdict, deque
from typing import Any, Deque, Dict, Iterable, Iterator, NamedTuple, Optional, Tuple, Union

from elasticsearch import AuthorizationException, Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from ..convert import Summary
from ..event import Origin, RecordError
from ..readers import read_paths
from ..winlogbeat import to_winlogbeat
from .client import RETRY_STATUSES, path_part, request
from .pipeline import PIPELINE_ID
from .simulate import error_text

CHUNK_SIZE = 500
NOT_EVENTS = "not an event file"  # the reason readers give for a README inside a directory


class ShipError(ValueError):
    """Nothing can be shipped: the pipeline the documents go through is not installed."""


class Indexed(NamedTuple):
    """The outcome of one document: ``ok``, or the error Elasticsearch gave for it."""

    origin: Origin
    ok: bool
    message: str = ""

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


class ShipSummary(Summary):
    def __init__(self) -> None:
        super().__init__()
        self.indexed = 0
        self.index_failed = 0

    def lines(self) -> list:
        return super().lines() + [f"indexed: {self.indexed}, failed: {self.index_failed}"]

    @property
    def failed(self) -> bool:
        """An index failure, an unreadable file or a bad record (a file that holds no events is not a failure)."""
        bad_records = sum(count for reason, count in self.skipped.items() if reason != NOT_EVENTS)
        return bool(self.index_failed or self.unreadable_files or bad_records)


Documents = Iterable[Union[Tuple[Origin, Dict[str, Any]], RecordError]]


def ship(client: Elasticsearch, paths: Iterable[str], index: str, event_ids: frozenset, summary: ShipSummary,
         pipeline_id: str = PIPELINE_ID) -> Iterator[Union[Indexed, RecordError]]:
    """Index every wanted event of paths; yield each Indexed outcome and each RecordError, in stream order."""
    require_pipeline(client, pipeline_id)
    return ship_documents(client, _event_documents(paths, event_ids, summary), index, summary, pipeline_id)


def _event_documents(paths: Iterable[str], event_ids: frozenset, summary: ShipSummary) -> Documents:
    for result in read_paths(paths, event_ids, summary.stats):
        yield result if isinstance(result, RecordError) else (result.origin, to_winlogbeat(result))


def ship_documents(client: Elasticsearch, documents: Documents, index: str, summary: ShipSummary,
                   pipeline_id: Optional[str] = None) -> Iterator[Union[Indexed, RecordError]]:
    """Index documents (each with where it was read), through the pipeline if one is named."""
    in_flight: Dict[str, Deque[Origin]] = defaultdict(deque)
    read_errors: Deque[RecordError] = deque()
    actions = _document_actions(documents, index, summary, in_flight, read_errors)
    results = streaming_bulk(
        client, actions, chunk_size=CHUNK_SIZE, max_retries=5, initial_backoff=1, max_backoff=60,
        retry_on_status=RETRY_STATUSES, raise_on_error=False, raise_on_exception=False, yield_ok=True,
        pipeline=pipeline_id,
    )
    for ok, item in results:
        yield from _drain(read_errors)
        outcome = next(iter(item.values()))
        origin = _pop(in_flight, outcome.get("_id"))
        if ok:
            summary.indexed += 1
            yield Indexed(origin, True)
        else:
            summary.index_failed += 1
            yield Indexed(origin, False, _failure_text(outcome))
    yield from _drain(read_errors)


def require_pipeline(client: Elasticsearch, pipeline_id: str) -> None:
    """Fail before the first document when the pipeline is missing (a key allowed only to write cannot look)."""
    try:
        request(client, "GET", f"/_ingest/pipeline/{path_part(pipeline_id)}")
    except NotFoundError:
        raise ShipError(f"the ingest pipeline {pipeline_id} is not installed: run `win4658 es install`") from None
    except AuthorizationException:
        pass


def _actions(paths: Iterable[str], index: str, event_ids: frozenset, summary: ShipSummary,
             in_flight: Dict[str, Deque[Origin]], read_errors: Deque[RecordError]) -> Iterator[Dict[str, Any]]:
    return _document_actions(_event_documents(paths, event_ids, summary), index, summary, in_flight, read_errors)


def _document_actions(documents: Documents, index: str, summary: ShipSummary, in_flight: Dict[str, Deque[Origin]],
                      read_errors: Deque[RecordError]) -> Iterator[Dict[str, Any]]:
    for result in documents:
        if isinstance(result, RecordError):
            summary.record_error(result)
            read_errors.append(result)
            continue
        origin, document = result
        summary.converted += 1
        document_id = content_id(document)
        in_flight[document_id].append(origin)
        yield {"_op_type": "index", "_index": index, "_id": document_id, "_source": document}


def content_id(document: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:40]


def _pop(in_flight: Dict[str, Deque[Origin]], document_id: Any) -> Origin:
    origins = in_flight.get(document_id)
    if not origins:
        return Origin("(unknown document)", 0)
    origin = origins.popleft()
    if not origins:
        del in_flight[document_id]
    return origin


def _drain(errors: Deque[RecordError]) -> Iterator[RecordError]:
    while errors:
        yield errors.popleft()


def _failure_text(outcome: Dict[str, Any]) -> str:
    reason = error_text(outcome["error"]) if "error" in outcome else outcome.get("exception", "failed")
    return f"HTTP {outcome.get('status', '?')} {reason}"
