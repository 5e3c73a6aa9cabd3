"""line_compiled.c: hunt's session line in C (sessions/line.py configures it and answers what it declines)."""

from typing import Any, Callable, Dict, Optional

def configure(
    basename: Callable[[str], str],
    requested: Callable[[Optional[str], Optional[str]], bytes],
    used: Callable[[Optional[str], int], bytes],
    privileges: Any,
    duration: Callable[[int], bytes],
    endings: Dict[str, bytes],
) -> None: ...
def session_line(lifetime: Any) -> Optional[bytes]: ...
