"""A win4658 checkout: the repository `win4658 generate` regenerates, found from --root or the current directory.

An installed win4658 carries what it runs with (mappings, detection bundle, example events, the add-on) as package
data; only regenerating the committed files needs the sources, which live in a checkout.
"""
import filecmp
import os
from importlib import resources
from typing import Optional

MARKERS = ("pyproject.toml", "mappings/ecs.yml", "detections/detection.schema.json", "addon/default")
MAPPINGS = "mappings"


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


def require_installed_mappings(root: str) -> None:
    """Generation reads the mappings of the installed package: refuse when the checkout's differ from them."""
    installed = str(resources.files("win4658") / MAPPINGS)
    checkout = os.path.join(root, MAPPINGS)
    if os.path.realpath(installed) == os.path.realpath(checkout):
        return
    names = sorted(name for name in os.listdir(checkout) if not name.startswith("."))
    _, differing, missing = filecmp.cmpfiles(checkout, installed, names, shallow=False)
    if differing or missing:
        raise CheckoutError(f"{checkout}: {', '.join(differing + missing)} differ from the installed win4658's "
                            f"mappings: install the checkout (pip install -e {root}) and generate again")
