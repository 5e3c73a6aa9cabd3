"""A win4658 checkout: the repository `win4658 generate` regenerates, found from --root or the current directory.

An installed win4658 carries what it runs with (mappings, detection bundle, example events, the add-on) as package
data; only regenerating the committed files needs the sources, which live in a checkout.
"""

import filecmp
import os
from importlib import resources
from typing import Iterator, Optional

MARKERS = (
    "pyproject.toml",
    "src/win4658/__init__.py",
    "mappings/ecs.yml",
    "detections/detection.schema.json",
    "addon/default",
)
PACKAGE = "src/win4658"
GENERATED_INTO_PACKAGE = ("addon", "detections/bundle.json")  # what generate writes: a checkout may be ahead


class CheckoutError(RuntimeError):
    """No win4658 checkout where one is needed, or one the installed package does not match."""


def is_checkout(path: str) -> bool:
    return all(os.path.exists(os.path.join(path, marker)) for marker in MARKERS)


def find_checkout(root: Optional[str]) -> str:
    """``root`` if it is a checkout, else the current directory if it is one; raise CheckoutError otherwise."""
    if root is not None:
        if not is_checkout(root):
            raise CheckoutError(f"{root}: not a win4658 checkout (it needs {', '.join(MARKERS)})")
        return os.path.abspath(root)
    if is_checkout(os.getcwd()):
        return os.getcwd()
    raise CheckoutError(f"needs a win4658 checkout: --root DIR (the current directory {os.getcwd()} is not one)")


def require_installed_from(root: str) -> None:
    """Generation runs the installed package (its code and mappings) over the checkout's detections: refuse when
    the installed package is not the checkout's src/win4658."""
    installed = str(resources.files("win4658"))
    checkout = os.path.join(root, PACKAGE)
    if os.path.realpath(installed) == os.path.realpath(checkout):
        return
    names = list(_package_files(checkout))
    _, differing, missing = filecmp.cmpfiles(checkout, installed, names, shallow=False)
    if differing or missing:
        raise CheckoutError(
            f"{checkout}: {', '.join(sorted(differing + missing))} differ from the installed "
            f"win4658: install the checkout (pip install -e {root}) and generate again"
        )


def _package_files(package_dir: str) -> Iterator[str]:
    """The package's code and mappings, relative to package_dir."""
    for folder, subfolders, names in os.walk(package_dir, followlinks=True):
        relative_folder = os.path.relpath(folder, package_dir)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name != "__pycache__"
            and os.path.normpath(os.path.join(relative_folder, name)) not in GENERATED_INTO_PACKAGE
        )
        for name in sorted(names):
            relative = os.path.normpath(os.path.join(relative_folder, name))
            if relative not in GENERATED_INTO_PACKAGE and name.endswith((".py", ".yml", ".json", ".xml")):
                yield relative
