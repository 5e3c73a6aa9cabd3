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
