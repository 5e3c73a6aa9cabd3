"""The Windows event layer: the names Windows renders for System's Task, Opcode and Keywords (mappings/windows.yml),
and how it writes numbers.

The Winlogbeat shape and the Splunk renderer depend on this alone, not on the mappings; the mappings' lookups see
the same names as tables (mapping.Mapping).
"""
import os
from functools import lru_cache
from importlib import resources
from typing import Any, Dict

import yaml

MAPPINGS_DIR = str(resources.files("win4658") / "mappings")
WINDOWS_FILE = "windows.yml"


@lru_cache(maxsize=None)
def name_tables() -> Dict[str, Dict[Any, str]]:
    """task_names, opcode_names and keywords_names: each number (as Windows writes it) → its rendered name."""
    with open(os.path.join(MAPPINGS_DIR, WINDOWS_FILE), encoding="utf-8") as stream:
        return yaml.safe_load(stream)


# A number written out must fit the targets' index type (ECS and Winlogbeat: long) and, as every number of the event
# is an id (process, thread, handle, event), not be negative.
LARGEST_NUMBER = (1 << 63) - 1


def hex_to_int(value: Any) -> int:
    """A number as Windows writes it: decimal, or hexadecimal after "0x"; ValueError outside 0..2^63-1."""
    if value.__class__ is int:  # not a bool
        return in_long_range(value)
    text = str(value).strip()
    return in_long_range(int(text, 16) if text[:2].lower() == "0x" else int(text))


def in_long_range(number: int) -> int:
    if not 0 <= number <= LARGEST_NUMBER:
        raise ValueError(f"{number} is outside 0..2^63-1 (a long)")
    return number
