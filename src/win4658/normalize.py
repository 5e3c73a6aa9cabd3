"""The normalizer: canonical Event → ECS document / CIM fields, driven only by mappings/*.yml."""

from typing import Any, Dict

from .event import Event
from .mapping import bundled


def to_ecs(event: Event) -> Dict[str, Any]:
    return bundled("ecs").apply(event)


def to_cim(event: Event) -> Dict[str, Any]:
    return bundled("cim").apply(event)
