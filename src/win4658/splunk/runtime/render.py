"""An Event as the one-line XML Windows renders (Splunk's XmlWinEventLog form), whatever form it was read from."""

import re
from typing import Any, Callable, Dict, List

from ...event import Event
from ...windows import SYSTEM_ELEMENTS, SYSTEM_TEXT_ELEMENTS, name_tables

EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
# XML 1.0 forbids these characters even as references: they are replaced, not dropped, so the gap stays visible.
INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_event_xml(event: Event) -> str:
    """The event as Windows' RenderXml prints it: one line, single-quoted attributes, EventData in order."""
    system = _system_numbers(event.system)
    parts: List[str] = [f"<Event xmlns='{EVENT_NAMESPACE}'><System>"]
    parts += [_element(name, system.get(name)) if write is None else write(system) for name, write in SYSTEM_WRITERS]
    parts.append("</System><EventData>")
    parts += [f"<Data Name='{_attribute(name)}'>{_text(value)}</Data>" for name, value in event.data.items()]
    parts.append("</EventData></Event>")
    return "".join(parts)


def _system_numbers(system: Dict[str, Any]) -> Dict[str, Any]:
    """Shippers that sent rendered text (Task 'File System', Keywords ['Audit Success']) get their numbers back."""
    tables = name_tables()
    numbers = dict(system)
    numbers["Task"] = _unrender(tables["task_names"], system.get("Task"))
    numbers["Opcode"] = _unrender(tables["opcode_names"], system.get("Opcode"))
    keywords = system.get("Keywords")
    if isinstance(keywords, list):
        keywords = keywords[0] if len(keywords) == 1 else None
    numbers["Keywords"] = _unrender(tables["keywords_names"], keywords)
    return numbers


def _unrender(table: Dict[Any, str], value: Any) -> Any:
    return next((number for number, name in table.items() if name == value), value)


def _time_created(system: Dict[str, Any]) -> str:
    time_created = system.get("TimeCreated")
    return "" if time_created is None else f"<TimeCreated SystemTime='{_attribute(time_created)}'/>"


def _correlation(_system: Dict[str, Any]) -> str:
    return "<Correlation/>"


def _security(system: Dict[str, Any]) -> str:
    user = system.get("UserID")
    return f"<Security UserID='{_attribute(user)}'/>" if user else "<Security/>"


def _provider(system: Dict[str, Any]) -> str:
    attributes = ""
    if system.get("Provider") is not None:
        attributes += f" Name='{_attribute(system['Provider'])}'"
    if system.get("ProviderGuid") is not None:
        attributes += f" Guid='{_attribute(system['ProviderGuid'])}'"
    return f"<Provider{attributes}/>"


def _execution(system: Dict[str, Any]) -> str:
    attributes = "".join(
        f" {name}='{_attribute(system[name])}'" for name in ("ProcessID", "ThreadID") if system.get(name) is not None
    )
    return f"<Execution{attributes}/>" if attributes else ""


# System's elements that carry attributes, each written from the System fields
ATTRIBUTE_ELEMENTS: Dict[str, Callable[[Dict[str, Any]], str]] = {
    "Provider": _provider,
    "TimeCreated": _time_created,
    "Correlation": _correlation,
    "Execution": _execution,
    "Security": _security,
}
# System's elements in the layer's order, each with its writer (None: a text element)
SYSTEM_WRITERS = tuple(
    (name, None if name in SYSTEM_TEXT_ELEMENTS else ATTRIBUTE_ELEMENTS[name]) for name in SYSTEM_ELEMENTS
)


def _element(name: str, value: Any) -> str:
    return "" if value is None else f"<{name}>{_text(value)}</{name}>"


def _text(value: Any) -> str:
    text = INVALID_XML_CHARS.sub("\ufffd", str(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: Any) -> str:
    return _text(value).replace("'", "&apos;").replace('"', "&quot;")
