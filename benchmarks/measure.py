"""Run one command the way a user would and measure it: wall time and the peak RSS of that process alone."""
import os
import re
import shutil
import time
from typing import Dict, List, NamedTuple, Optional

SUMMARY = re.compile(r"records read: (\d+), converted: (\d+)")


class Measurement(NamedTuple):
    seconds: float
    peak_rss_kib: int
    stderr: str


def run_measured(argv: List[str], stdout_path: str = os.devnull, env: Optional[Dict[str, str]] = None) -> Measurement:
    """Spawn ``argv`` (stdout to ``stdout_path``), wait for it, and return its wall time and its own peak RSS."""
    executable = shutil.which(argv[0]) or argv[0]
    stderr_path = stdout_path + ".stderr" if stdout_path != os.devnull else f"/tmp/win4658-bench-{os.getpid()}.stderr"
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(executable, argv, env if env is not None else dict(os.environ), file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    with open(stderr_path, encoding="utf-8", errors="replace") as stream:
        stderr = stream.read()
    os.unlink(stderr_path)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({os.waitstatus_to_exitcode(status)}): {stderr[-2000:]}")
    return Measurement(seconds, usage.ru_maxrss, stderr)


def converted_counts(stderr: str) -> Optional[tuple]:
    """(records read, documents written) from win4658's closing summary."""
    match = SUMMARY.search(stderr)
    return (int(match.group(1)), int(match.group(2))) if match else None


def count_lines(path: str) -> int:
    with open(path, "rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
