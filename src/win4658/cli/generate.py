"""win4658 generate: rewrite every generated file (pipeline, template, Splunk knowledge, rules) from its source."""
import argparse
import os

from ..generate import write_all


def register(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="regenerate the committed files that follow from mappings/ and detections/")
    parser.add_argument("--root", default=os.getcwd(), help="repository root (default: current directory)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in write_all(args.root):
        print(f"wrote {path}")
    return 0
