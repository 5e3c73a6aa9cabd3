import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SAMPLE_XML = os.path.join(FIXTURES, "seed_sample.xml")


def shared_path(*parts: str) -> str:
    """A path under ../shared/, or skip the test saying what is missing."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"../shared/{'/'.join(parts)} is absent: clone win4658 with shared/ beside it to run this test")
    return path


@pytest.fixture(scope="session")
def corpus_events():
    """Every 4656/4658/4663 event of ../shared/corpus, read once per test session."""
    from win4658.event import Event
    from win4658.readers import read_paths

    corpus = shared_path("corpus")
    return [result for result in read_paths([corpus], frozenset({4656, 4658, 4663})) if isinstance(result, Event)]
