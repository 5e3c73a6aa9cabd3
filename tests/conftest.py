"""Hooks and fixtures for every test: snapshots (--update-snapshots), the corpus's events, a TLS certificate for
127.0.0.1, the summary of skips."""

import collections
import gzip
import os

import pytest

from tests.support.loopback import self_signed_certificate, server_context
from tests.support.paths import SNAPSHOTS, corpus_path


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="rewrite the files of tests/snapshots/ from what the tests produce (review the diff)",
    )


# A failure shows this many lines from the first one that differs.
SNAPSHOT_DIFF_LINES = 8


@pytest.fixture
def snapshot(request):
    """Compare a text with the committed tests/snapshots/<name> (gzip-compressed when the name ends in .gz); with
    ``pytest --update-snapshots`` write it there instead. A mismatch shows the first differing lines."""

    def matches(name: str, text: str) -> None:
        path = os.path.join(SNAPSHOTS, name)
        if request.config.getoption("--update-snapshots"):
            _write_snapshot(path, text)
        if not os.path.exists(path):
            pytest.fail(f"tests/snapshots/{name} is missing: run pytest --update-snapshots and commit it")
        expected, produced = _read_snapshot(path).splitlines(), text.splitlines()
        first = next(
            (number for number, (old, new) in enumerate(zip(expected, produced)) if old != new),
            min(len(expected), len(produced)),
        )
        window = slice(first, first + SNAPSHOT_DIFF_LINES)
        assert produced[window] == expected[window], (
            f"tests/snapshots/{name} differs from line {first + 1} ({len(produced)} lines produced, "
            f"{len(expected)} expected); if the change is intended: pytest --update-snapshots, review, commit\n"
            f"- expected: {expected[first] if first < len(expected) else '(end)'}\n"
            f"+ produced: {produced[first] if first < len(produced) else '(end)'}"
        )

    return matches


def _read_snapshot(path: str) -> str:
    with (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8", newline="") as stream:
        return stream.read()


def _write_snapshot(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode("utf-8")
    if path.endswith(".gz"):  # no time or name in the header: the same text gives the same bytes
        data = gzip.compress(data, compresslevel=9, mtime=0)
    with open(path, "wb") as stream:
        stream.write(data)


@pytest.fixture(scope="session")
def corpus_events():
    """Every 4656/4658/4663 event of the corpus, read once per test session."""
    from win4658.event import Event
    from win4658.readers import read_paths

    results = read_paths([corpus_path()], frozenset({4656, 4658, 4663}))
    return [result for result in results if isinstance(result, Event)]


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (its PEM path, a server SSLContext that presents it)."""
    directory = tmp_path_factory.mktemp("tls")
    certificate, key = self_signed_certificate(str(directory))
    return certificate, server_context(certificate, key)


# The live tests of one server word their reasons variously; the summary gives one line per server.
LIVE_SERVERS = {
    "WIN4658_ES_URL": "no Elasticsearch: set WIN4658_ES_URL (and WIN4658_ES_API_KEY, or WIN4658_ES_USER and "
    "WIN4658_ES_PASSWORD) to run the live tests against a cluster",
    "WIN4658_SPLUNK_URL": "no Splunk: set WIN4658_SPLUNK_URL and WIN4658_SPLUNK_TOKEN (or WIN4658_SPLUNK_USER and "
    "WIN4658_SPLUNK_PASSWORD) to run the live tests against a Splunk with TA-win4658",
}


def pytest_terminal_summary(terminalreporter):
    """One line per missing input: how many tests it skipped, and how to get it."""
    reasons = collections.Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].replace("Skipped: ", "", 1)
            reasons[next((text for variable, text in LIVE_SERVERS.items() if variable in reason), reason)] += 1
    if reasons:
        terminalreporter.section("skipped: what is missing and how to get it")
        for reason, count in reasons.most_common():
            terminalreporter.write_line(f"{count:4d} skipped: {reason}")
