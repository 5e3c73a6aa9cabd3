"""The field resolver: the name each platform gives a field of the Windows event, read from the mappings.

Detections name fields as the mappings' sources do (``EventData.ProcessName``, ``System.Computer``). Sigma and the
local engine use the Windows name itself; Elastic and Splunk the target of the first rule of mappings/ecs.yml or
mappings/cim.yml that copies the field with its value unchanged, else where the mapping keeps the raw EventData
(``winlog.event_data.HandleId`` in ECS, ``HandleId`` in Splunk).
"""
from typing import Tuple

from ..mapping import bundled

# transforms that keep the field's value (only its type changes): a search on the target finds the same events
VALUE_KEEPING = frozenset({None, "to_string", "to_int", "hex_to_int"})
RAW_FIELDS = "all_fields"


def section_and_name(field: str) -> Tuple[str, str]:
    """``EventData.ProcessName`` → ("EventData", "ProcessName")."""
    section, _, name = field.partition(".")
    return section, name


def windows_name(field: str) -> str:
    """The name in the Windows event (Sigma's and the local engine's): ``ProcessName``."""
    return section_and_name(field)[1]


def platform_name(platform: str, field: str) -> str:
    """The name of ``field`` in the documents of ``platform`` ("ecs" or "cim")."""
    section, name = section_and_name(field)
    rules = [rule.spec for rule in bundled(platform).rules]
    for spec in rules:
        if spec.get("source") == field and spec.get("transform") in VALUE_KEEPING:
            return spec["target"]
    for spec in rules:
        if spec.get("source") == section and spec.get("transform") == RAW_FIELDS:
            return f"{spec['target']}.{name}" if spec["target"] else name
    raise LookupError(f"mappings/{platform}.yml: no rule keeps {field}")


def ecs(field: str) -> str:
    return platform_name("ecs", field)


def cim(field: str) -> str:
    return platform_name("cim", field)
