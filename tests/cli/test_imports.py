"""The CLI's parser is built without the Elasticsearch client: commands that do not talk to a cluster do not pay
for importing it (cli/es.py and cli/generate.py import what reaches it when their action runs)."""

import subprocess
import sys

CLIENT_MODULES = ("elasticsearch", "elastic_transport")


def test_building_the_parser_leaves_the_elasticsearch_client_unimported():
    script = (
        "import sys\n"
        "from win4658.cli import build_parser\n"
        "build_parser().parse_args(['hunt', 'x.jsonl'])\n"
        f"print(sorted(name for name in sys.modules if name.split('.')[0] in {CLIENT_MODULES!r}))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_generate_still_reaches_the_generation_modules():
    script = (
        "import sys\n"
        "from win4658.cli import build_parser\n"
        "args = build_parser().parse_args(['generate', '--check', '--root', '/nonexistent-win4658-root'])\n"
        "print(args.func(args))\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert finished.stdout.strip() == "2"
    assert "win4658 generate: " in finished.stderr
