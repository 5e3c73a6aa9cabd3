"""Run one command the way a user would and measure it: wall time, CPU time and the peak RSS of that process alone."""

import os
import re
import shutil
import time
from typing import Dict, List, NamedTuple, Optional

SUMMARY = re.compile(r"records read: (\d+), converted: (\d+)")
GNU_TIME = "/usr/bin/time"  # Debian package "time"


class Measurement(NamedTuple):
    seconds: float
    peak_rss_kib: int
    stderr: str
    cpu_seconds: float  # user + system: what a machine shared with other work changes least


def run_measured(
    argv: List[str], stdout_path: str = os.devnull, stdin_path: str = os.devnull, env: Optional[Dict[str, str]] = None
) -> Measurement:
    """Spawn ``argv`` (stdin from ``stdin_path``, stdout to ``stdout_path``), wait, return its wall time, CPU time and
    own peak RSS.

    The peak RSS comes from GNU time, a small process that forks the command: a child spawned straight from this
    (large) Python process would carry this process's RSS as its high-water mark.
    """
    rss_path = f"{stdout_path if stdout_path != os.devnull else '/tmp/win4658-bench'}.{os.getpid()}.rss"
    stderr_path = rss_path[:-4] + ".stderr"
    command = [GNU_TIME, "-f", "%M", "-o", rss_path, shutil.which(argv[0]) or argv[0], *argv[1:]]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(GNU_TIME, command, env if env is not None else dict(os.environ), file_actions=actions)
    _, status, usage = os.wait4(pid, 0)  # GNU time's usage includes the command's, which it waited for
    seconds = time.perf_counter() - started
    stderr, peak_rss = _read_and_remove(stderr_path), _read_and_remove(rss_path)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({os.waitstatus_to_exitcode(status)}): {stderr[-2000:]}")
    return Measurement(seconds, int(peak_rss.split()[-1]), stderr, usage.ru_utime + usage.ru_stime)


def _read_and_remove(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as stream:
        text = stream.read()
    os.unlink(path)
    return text


def converted_counts(stderr: str) -> Optional[tuple]:
    """(records read, documents written) from win4658's closing summary."""
    match = SUMMARY.search(stderr)
    return (int(match.group(1)), int(match.group(2))) if match else None


def count_lines(path: str) -> int:
    with open(path, "rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def count_occurrences(path: str, needle: bytes) -> int:
    count, tail = 0, b""
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            window = tail + chunk
            count += window.count(needle)
            tail = window[-(len(needle) - 1) :]  # a needle cut by the chunk border is counted in the next window
    return count
