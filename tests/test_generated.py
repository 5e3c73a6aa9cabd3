"""Every committed generated file equals what its source generates now."""
import os

import pytest

from win4658.generate import GENERATORS, generated_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _committed(relative: str) -> str:
    path = os.path.join(ROOT, relative)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", newline="") as stream:
        return stream.read()


@pytest.mark.parametrize("relative", sorted(generated_files(ROOT)) or ["(nothing generated yet)"])
def test_committed_file_matches_its_source(relative):
    if not GENERATORS:
        pytest.skip("no generator registered")
    assert _committed(relative) == generated_files(ROOT)[relative], f"{relative} drifted: run `win4658 generate`"
