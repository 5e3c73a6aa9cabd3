"""Bundled example events: the default input of `win4658 hunt` and the README's first command.

- `4658_sample_documentation.xml`: Microsoft's sample 4658, as its documentation renders it;
- `hunt_examples.xml`: a morning on a workstation (4656/4663/4658) with one finding or more for each detection.
"""

from importlib import resources

EXAMPLES_DIR = str(resources.files("win4658.examples"))
EXAMPLE_FILES = sorted(
    str(entry) for entry in resources.files("win4658.examples").iterdir() if entry.name.endswith(".xml")
)
