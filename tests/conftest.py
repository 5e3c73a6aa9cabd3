import collections
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TEST_REFERENCE = os.path.join(ROOT, "tests", "reference")
SAMPLE_XML = os.path.join(FIXTURES, "seed_sample.xml")

sys.path.insert(0, os.path.join(ROOT, "tools"))
import corpus  # noqa: E402  (tools/corpus.py: the one place that knows where the corpus is)

CORPUS_FILES = corpus.manifest_files()
CORPUS_DIR, CORPUS_ABSENT = corpus.locate(CORPUS_FILES)


def corpus_path(*parts: str) -> str:
    """A path in the public corpus (WIN4658_CORPUS, else the cache, else ../shared/corpus), or skip saying how to
    get it."""
    if CORPUS_DIR is None:
        pytest.skip(CORPUS_ABSENT)
    return os.path.join(CORPUS_DIR, *parts)


def corpus_inputs(folder) -> list:
    """A folder holding a file that is not an event file (made in ``folder``), then the corpus's event files in the
    order reading a folder gives them: the same inputs wherever the corpus came from (../shared/corpus also holds
    MANIFEST.md, the cache does not), with one file skipped as not an event file."""
    notes = os.path.join(str(folder), "notes")
    os.makedirs(notes, exist_ok=True)
    with open(os.path.join(notes, "NOTES.md"), "w", encoding="utf-8") as stream:
        stream.write("# not an event file\n")
    return [notes] + [corpus_path(*relative.split("/")) for relative in sorted(entry["file"] for entry in CORPUS_FILES)]


def unshipped_reference(*parts: str, why: str) -> str:
    """A reference file this project may not redistribute, read from ../shared/reference, or skip saying why."""
    path = os.path.join(SHARED_REFERENCE, *parts)
    if not os.path.exists(path):
        pytest.skip(f"../shared/reference/{'/'.join(parts)} is absent ({why}, so not shipped): "
                    "put the shared reference folder beside the checkout to run this test")
    return path


@pytest.fixture(scope="session")
def corpus_events():
    """Every 4656/4658/4663 event of the corpus, read once per test session."""
    from win4658.event import Event
    from win4658.readers import read_paths

    results = read_paths([corpus_path()], frozenset({4656, 4658, 4663}))
    return [result for result in results if isinstance(result, Event)]


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
