"""`win4658 es ship`: any input form → Winlogbeat-shaped documents → bulk requests through the pipeline.

Each document's ``_id`` is a digest of its content, so shipping the same file twice does not duplicate events; a
document identical to one already sent in this run (within the last DUPLICATE_WINDOW documents) is counted as a
duplicate and not sent again. Every document sent is confirmed by its item of the bulk answer or counted as failed;
a run that cannot go on (the cluster unreachable after the retries, an answer that is not a bulk answer) raises
ShipAborted after the summary has counted what was in flight as not sent.
"""

import hashlib
import json
from collections import OrderedDict
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

import orjson
from elastic_transport import TransportError
from elasticsearch import ApiError, AuthorizationException, NotFoundError

from ..convert import Summary
from ..event import Origin, RecordError
from ..readers import read_paths
from ..winlogbeat import to_winlogbeat
from .client import RETRY_STATUSES, Cluster, ServerAnswerError, path_part, request
from .pipeline import PIPELINE_ID
from .simulate import error_text

CHUNK_SIZE = 500
DUPLICATE_WINDOW = 100_000  # content ids remembered (about 10 MB), so memory does not grow with the input
NOT_EVENTS = "not an event file"  # the reason readers give for a README inside a directory


class ShipError(ValueError):
    """Nothing can be shipped: the pipeline the documents go through is not installed."""


class ShipAborted(RuntimeError):
    """The run stopped: the cluster could not be reached or gave an answer that confirms nothing."""


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
        self.duplicates = 0
        self.not_sent = 0

    def lines(self) -> list:
        counts = f"indexed: {self.indexed}, failed: {self.index_failed}, duplicates: {self.duplicates}"
        return super().lines() + [counts + (f", not sent: {self.not_sent}" if self.not_sent else "")]

    @property
    def failed(self) -> bool:
        """An index failure, an unreadable file or a bad record (a file that holds no events is not a failure)."""
        bad_records = sum(count for reason, count in self.skipped.items() if reason != NOT_EVENTS)
        return bool(self.index_failed or self.not_sent or self.unreadable_files or bad_records)


class _Pending(NamedTuple):
    document_id: str
    origin: Origin
    source: bytes  # the document's NDJSON line


class _Target:
    """Where the documents go; ``operation`` becomes ``create`` once the cluster says the index is a data stream."""

    def __init__(self, index: str, pipeline_id: Optional[str]):
        self.index = index
        self.pipeline_id = pipeline_id
        self.operation = "index"


Documents = Iterable[Union[Tuple[Origin, Dict[str, Any]], RecordError]]


def ship(
    client: Cluster,
    paths: Iterable[str],
    index: str,
    event_ids: frozenset,
    summary: ShipSummary,
    pipeline_id: str = PIPELINE_ID,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Union[Indexed, RecordError]]:
    """Index every wanted event of paths; yield each Indexed outcome and each RecordError, in stream order."""
    require_pipeline(client, pipeline_id)
    yield from ship_documents(
        client, _event_documents(paths, event_ids, summary), index, summary, pipeline_id, chunk_size
    )


def _event_documents(paths: Iterable[str], event_ids: frozenset, summary: ShipSummary) -> Documents:
    for result in read_paths(paths, event_ids, summary.stats):
        yield result if isinstance(result, RecordError) else (result.origin, to_winlogbeat(result))


def ship_documents(
    client: Cluster,
    documents: Documents,
    index: str,
    summary: ShipSummary,
    pipeline_id: Optional[str] = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Union[Indexed, RecordError]]:
    """Index documents (each with where it was read), through the pipeline if one is named."""
    target = _Target(index, pipeline_id)
    recent: "OrderedDict[str, None]" = OrderedDict()
    batch: List[_Pending] = []
    for result in documents:
        if isinstance(result, RecordError):
            summary.record_error(result)
            yield result
            continue
        origin, document = result
        summary.converted += 1
        document_id = content_id(document)
        if _seen(recent, document_id):
            summary.duplicates += 1
            continue
        batch.append(_Pending(document_id, origin, _ndjson(document)))
        if len(batch) == chunk_size:
            yield from _send(client, batch, target, summary)
            batch = []
    if batch:
        yield from _send(client, batch, target, summary)


def require_pipeline(client: Cluster, pipeline_id: str) -> None:
    """Fail before the first document when the pipeline is missing (a key allowed only to write cannot look)."""
    try:
        request(client, "GET", f"/_ingest/pipeline/{path_part(pipeline_id)}")
    except NotFoundError:
        raise ShipError(f"the ingest pipeline {pipeline_id} is not installed: run `win4658 es install`") from None
    except AuthorizationException:
        pass


def _seen(recent: "OrderedDict[str, None]", document_id: str) -> bool:
    if document_id in recent:
        recent.move_to_end(document_id)
        return True
    recent[document_id] = None
    if len(recent) > DUPLICATE_WINDOW:
        recent.popitem(last=False)
    return False


def _send(client: Cluster, batch: List[_Pending], target: _Target, summary: ShipSummary) -> Iterator[Indexed]:
    """One bulk request; documents the cluster rejected with 429 are sent again with backoff, and those a data
    stream refused as `index` operations are sent again as `create`."""
    pending = batch
    for attempt in range(client.retries + 1):
        items = _bulk(client, pending, target, summary)
        rejected, wait = [], False
        for document, item in zip(pending, items):
            status = item.get("status", 0) if isinstance(item, dict) else 0
            if status in RETRY_STATUSES and attempt < client.retries:
                rejected.append(document)
                wait = True
            elif _needs_create(item) and target.operation == "index":
                rejected.append(document)
            else:
                yield _outcome(document, item, summary)
        for document in pending[len(items) :]:
            summary.index_failed += 1
            yield Indexed(
                document.origin,
                False,
                f"not confirmed: the bulk answer lists {len(items)} items for {len(pending)} documents sent",
            )
        if not rejected:
            return
        if any(_needs_create(item) for item in items):
            target.operation = "create"
        pending = rejected
        if wait:
            client.sleep(client.backoff(attempt))


def _needs_create(item: Any) -> bool:
    error = item.get("error") if isinstance(item, dict) else None
    return isinstance(error, dict) and "op_type of create" in str(error.get("reason", ""))


def _bulk(client: Cluster, batch: List[_Pending], target: _Target, summary: ShipSummary) -> List[Any]:
    body = b"".join(
        _ndjson({target.operation: {"_index": target.index, "_id": document.document_id}}) + document.source
        for document in batch
    )
    try:
        pipeline = f"?pipeline={path_part(target.pipeline_id)}" if target.pipeline_id else ""
        answer = client.request("POST", f"/_bulk{pipeline}", body, ndjson=True)
    except (TransportError, ApiError, ServerAnswerError) as error:
        summary.not_sent += len(batch)
        raise ShipAborted(
            f"{_error_text(error)}; stopped at {batch[0].origin}: that batch of {len(batch)} "
            "documents and the rest of the input were not sent"
        ) from None
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        summary.not_sent += len(batch)
        raise ShipAborted(
            f"the server's answer to the bulk request has no items: is this Elasticsearch or "
            f"OpenSearch? Stopped at {batch[0].origin}: that batch of {len(batch)} documents is not "
            "confirmed and the rest of the input was not sent"
        )
    return [next(iter(item.values()), None) if isinstance(item, dict) and item else None for item in items]


def _outcome(document: _Pending, item: Any, summary: ShipSummary) -> Indexed:
    if not isinstance(item, dict) or item.get("_id", document.document_id) != document.document_id:
        summary.index_failed += 1
        return Indexed(document.origin, False, "not confirmed: the bulk answer's item does not name this document")
    status = item.get("status", 0)
    if 200 <= status < 300 or status == 409:  # 409: a `create` of content already in the data stream
        summary.indexed += 1
        return Indexed(document.origin, True)
    summary.index_failed += 1
    return Indexed(document.origin, False, _failure_text(item))


def _error_text(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"HTTP {error.status_code} {error.message}"
    if isinstance(error, TransportError):
        return f"cannot reach the cluster: {type(error).__name__}: {error.message}"
    return str(error)


def _ndjson(document: Dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE)


def content_id(document: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:40]


def _failure_text(outcome: Dict[str, Any]) -> str:
    reason = error_text(outcome["error"]) if "error" in outcome else outcome.get("exception", "failed")
    return f"HTTP {outcome.get('status', '?')} {reason}"
