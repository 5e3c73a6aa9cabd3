"""Bundled example events: the default input of `win4658 hunt` and the README's first command."""
import os

EXAMPLES_DIR = os.path.dirname(__file__)
