"""Access masks as names, by object type: the bits of mappings/access_rights.yml."""

import os
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

import yaml

from ..mapping import MAPPINGS_DIR

ACCESS_RIGHTS_FILE = "access_rights.yml"
# (standard and generic bits, specific bits by object type), each a sorted list of (bit, name)
AccessRights = Tuple[List[Tuple[int, str]], Dict[str, List[Tuple[int, str]]]]


def _bits(table: Dict[str, str]) -> List[Tuple[int, str]]:
    return sorted((int(bit, 16), name) for bit, name in table.items())


def read_access_rights(path: str) -> AccessRights:
    with open(path, encoding="utf-8") as stream:
        spec = yaml.safe_load(stream)
    return _bits(spec["standard"]), {object_type: _bits(table) for object_type, table in spec["object_types"].items()}


@lru_cache(maxsize=1)
def access_rights() -> AccessRights:
    """The installed access_rights.yml."""
    return read_access_rights(os.path.join(MAPPINGS_DIR, ACCESS_RIGHTS_FILE))


def bit_names(rights: AccessRights, object_type: Optional[str], width: int) -> List[str]:
    """The name of each of the lowest ``width`` bits for the object type (its hex value where no table names it)."""
    standard, by_type = rights
    named = dict(standard + by_type.get(object_type or "", []))
    return [named.get(1 << position, hex(1 << position)) for position in range(width)]


@lru_cache(maxsize=4096)
def access_names(object_type: Optional[str], mask: int) -> Tuple[str, ...]:
    """The names of the bits set in ``mask``, lowest bit first; a bit no table names as its hex value."""
    standard, by_type = access_rights()
    named = standard + by_type.get(object_type or "", [])
    names = [name for bit, name in sorted(named) if mask & bit]
    unnamed = mask
    for bit, _name in named:
        unnamed &= ~bit
    return tuple(names + [hex(1 << position) for position in range(unnamed.bit_length()) if unnamed >> position & 1])
