"""Windows paths compared the way Windows does, and path patterns compiled once for every platform.

A path pattern (a row of a detection list) is a Windows path where ``*`` stands for any run of characters,
separators included: the wildcard of Splunk's WILDCARD lookups, so that a list means the same in Splunk, in
Elastic and here. ``*:\\Windows\\System32\\*`` is "anything under System32 on any drive".

Matching ignores case, the ``\\\\?\\``, ``\\\\.\\`` and ``\\??\\`` prefixes, ``/`` for ``\\`` and repeated
separators. 8.3 short names are tolerated by the lists themselves: a ``*`` user folder matches
``NORA~1.QUE``, and ``*:\\PROGRA~1\\*`` rows stand beside ``*:\\Program Files\\*``.

One regular expression per pattern serves the local engine (Python ``re``, full match), Elasticsearch's EQL
``regex~`` (Lucene syntax, always anchored) and Splunk (PCRE): it uses only the syntax the three share —
groups ``(…)``, ``|``, ``?``, ``+``, ``*``, ``.``, bracket classes and backslash escapes.
"""

import re
from typing import Iterable, Optional

# \\?\C:\…, \\.\C:\… and \??\C:\… are the same file as C:\…
DEVICE_PREFIX_REGEX = r"(\\\\\?\\|\\\\\.\\|\\\?\?\\)"
SEPARATOR_REGEX = r"[\\/]+"
_DEVICE_PREFIX = re.compile(DEVICE_PREFIX_REGEX)
_SEPARATORS = re.compile(SEPARATOR_REGEX)
_UNC_DEVICE_PREFIX = re.compile(r"^\\\\\?\\UNC\\", re.IGNORECASE)


def normalize_path(path: str) -> str:
    r"""The canonical spelling of a Windows path: no device prefix, single ``\``, lower case.

    ``\\?\UNC\server\share`` becomes ``\\server\share``; a genuine UNC path keeps its leading ``\\``.
    """
    text = path.strip()
    if _UNC_DEVICE_PREFIX.match(text):
        return "\\\\" + _collapse(text[8:]).lower()
    text = _DEVICE_PREFIX.sub("", text, count=1) if _DEVICE_PREFIX.match(text) else text
    if text[:2] in ("\\\\", "//"):
        return "\\\\" + _collapse(text[2:]).lower()
    return _collapse(text).lower()


def _collapse(text: str) -> str:
    return _SEPARATORS.sub(lambda _match: "\\", text)


def pattern_regex(pattern: str) -> str:
    """The shared-syntax regular expression (to be matched whole, ignoring case) of one path pattern."""
    parts = []
    for piece in re.split(r"(\*|[\\/]+)", pattern.strip()):
        if piece == "*":
            parts.append(".*")
        elif piece and piece[0] in "\\/":
            parts.append(SEPARATOR_REGEX)
        elif piece:
            parts.append(escape(piece))
    return DEVICE_PREFIX_REGEX + "?" + "".join(parts)


def wildcard_regex(pattern: str) -> str:
    """A plain ``*`` wildcard (host names) as a shared-syntax regular expression."""
    return ".*".join(escape(piece) for piece in pattern.strip().split("*"))


def escape(literal: str) -> str:
    """Escape every character but letters, digits and ``_`` (Lucene reserves ``~ # @ & < >`` and ``"``)."""
    return "".join(char if char.isalnum() or char == "_" else "\\" + char for char in literal)


def any_of(regexes: Iterable[str]) -> str:
    return "|".join(f"({regex})" for regex in regexes)


class PathPatterns:
    """A list of path patterns; ``match(path)`` returns the first pattern that matches, or None."""

    def __init__(self, patterns: Iterable[str]):
        self.patterns = [pattern for pattern in patterns if pattern.strip()]
        self.regexes = [re.compile(pattern_regex(pattern), re.IGNORECASE) for pattern in self.patterns]
        self.combined = re.compile(any_of(pattern_regex(pattern) for pattern in self.patterns) or "(?!)", re.IGNORECASE)

    def match(self, path: str) -> Optional[str]:
        if not self.combined.fullmatch(path):
            return None
        return next(pattern for pattern, regex in zip(self.patterns, self.regexes) if regex.fullmatch(path))
