"""Learn an allow-list (detection 1) from known-good data: every process seen closing a handle."""

from typing import Dict, Iterable, Iterator, Optional, Tuple, Union

from ..event import DEFAULT_EVENT_IDS, ReadStats, RecordError
from ..readers import read_paths
from .definitions import DetectionList
from .engine import event_process
from .paths import normalize_path

ALLOWLIST_COLUMNS = ["host", "process_path"]


def learn_allowlist(
    paths: Iterable[str], per_host: bool = False, stats: Optional[ReadStats] = None, name: str = "win4658_allowlist"
) -> Iterator[Union[RecordError, DetectionList]]:
    """Yield each RecordError met on the way, then the learned list (rows sorted; one per path, or per host and path).

    Paths that differ only in the way Windows ignores (case, prefixes, separators) are one row, spelled as first seen.
    """
    seen: Dict[Tuple[str, str], Tuple[str, str]] = {}
    for result in read_paths(paths, DEFAULT_EVENT_IDS, stats):
        if isinstance(result, RecordError):
            yield result
            continue
        path = event_process(result)
        if path is None:
            continue
        host = (result.system.get("Computer") or "*") if per_host else "*"
        seen.setdefault((host.lower(), normalize_path(path)), (host, path))
    rows = [list(first_spelling) for _key, first_spelling in sorted(seen.items())]
    yield DetectionList(name, list(ALLOWLIST_COLUMNS), rows)
