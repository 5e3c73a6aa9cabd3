"""The parameters of a win4658_files input: checked for validate_input, and the files its path names."""

import glob
import os
from typing import Dict, List

from ...event import SUPPORTED_EVENT_IDS

DEFAULT_EVENT_IDS = "4658,4656,4663"


def parse_event_ids(text: str) -> frozenset:
    """'4658, 4656' → frozenset({4656, 4658}); ValueError naming what is wrong."""
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise ValueError("event_ids is empty: give a comma-separated list such as 4658,4656,4663")
    ids = set()
    for part in parts:
        if not part.isdigit() or int(part) not in SUPPORTED_EVENT_IDS:
            raise ValueError(
                f"event_ids: {part!r} is not a supported event id "
                f"(choose from {', '.join(map(str, sorted(SUPPORTED_EVENT_IDS)))})"
            )
        ids.add(int(part))
    return frozenset(ids)


def is_true(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "t", "yes", "y")


def discover(path: str, recursive: bool) -> List[str]:
    """Files under a directory (recursively or not) or matching a glob (** when recursive), sorted."""
    if os.path.isdir(path):
        if recursive:
            found = [os.path.join(root, name) for root, _dirs, names in os.walk(path) for name in names]
        else:
            found = [os.path.join(path, name) for name in os.listdir(path)]
    else:
        found = glob.glob(path, recursive=recursive)
    return sorted(file for file in found if os.path.isfile(file) and not os.path.basename(file).startswith("."))


def check_parameters(parameters: Dict[str, str]) -> None:
    """What validate_input checks: the path names readable files or a readable directory, the ids are supported."""
    parse_event_ids(parameters.get("event_ids") or DEFAULT_EVENT_IDS)
    path = (parameters.get("path") or "").strip()
    if not path:
        raise ValueError("path is required: a directory, a file or a glob such as /data/evtx/*.evtx")
    if os.path.isdir(path):
        if not os.access(path, os.R_OK | os.X_OK):
            raise ValueError(f"path {path!r}: the directory is not readable by the Splunk user")
        return
    if glob.has_magic(path):
        if not os.path.isdir(os.path.dirname(path) or "."):
            raise ValueError(f"path {path!r}: the directory of the pattern does not exist")
        return
    if not os.path.isfile(path):
        raise ValueError(f"path {path!r} does not exist")
    if not os.access(path, os.R_OK):
        raise ValueError(f"path {path!r} is not readable by the Splunk user")
