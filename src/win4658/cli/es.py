"""win4658 es: install the pipeline and template, simulate events through them, ship files, hunt with the rules.

The modules that import the Elasticsearch client are imported when an action runs, so that every other
subcommand starts without loading it.
"""

import argparse
import getpass
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from ..elasticsearch.pipeline import PIPELINE_ID, pipeline_body
from ..elasticsearch.template import DEFAULT_INDEX, INDEX_PATTERN, TEMPLATE_NAME
from ..event import RecordError
from ..examples import EXAMPLES_DIR
from ..readers import read_paths
from .common import Progress, add_event_id_option, event_ids, missing_paths, print_lines, report_error, whole_number

if TYPE_CHECKING:
    from ..elasticsearch.client import Cluster

SAMPLE = os.path.join(EXAMPLES_DIR, "4658_sample_documentation.xml")

SECRETS_HELP = (
    "credentials come from the environment only: WIN4658_ES_API_KEY, or WIN4658_ES_USER with "
    "WIN4658_ES_PASSWORD (or --ask-password); WIN4658_ES_URL and WIN4658_ES_CA_CERTS set the defaults"
)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("es", help="Elasticsearch: install, simulate, ship, hunt", description=SECRETS_HELP)
    actions = parser.add_subparsers(dest="es_command", required=True, metavar="ACTION")
    for name, helptext, add_options, func in (
        ("install", "put the ingest pipeline and the index template (idempotent)", _install_options, run_install),
        ("simulate", "run events through the pipeline and compare with to_ecs", _simulate_options, run_simulate),
        ("ship", "index event files through the pipeline", _ship_options, run_ship),
        ("hunt", "run the generated Kibana rules against the cluster", _hunt_options, run_hunt),
    ):
        action = actions.add_parser(name, help=helptext, description=f"{helptext}. {SECRETS_HELP}")
        _connection_options(action)
        add_options(action)
        action.set_defaults(func=_guarded(func))


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--url", help="Elasticsearch URL (default: $WIN4658_ES_URL); no credentials in it")
    group.add_argument(
        "--ca-certs", metavar="PEM", help="CA bundle to verify the server (default: $WIN4658_ES_CA_CERTS)"
    )
    group.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    group.add_argument("--ask-password", action="store_true", help="prompt for the password of $WIN4658_ES_USER")


def _install_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", default=PIPELINE_ID, help=f"pipeline id (default: {PIPELINE_ID})")
    parser.add_argument("--template", default=TEMPLATE_NAME, help=f"index template name (default: {TEMPLATE_NAME})")
    parser.add_argument(
        "--index-pattern",
        action="append",
        dest="index_patterns",
        metavar="PATTERN",
        help=f"index pattern of the template, repeatable (default: {INDEX_PATTERN})",
    )
    parser.add_argument(
        "--data-stream",
        action="store_true",
        help="Elasticsearch 8.0+: the template creates data streams, with the ILM policy TEMPLATE and "
        "the component template TEMPLATE@custom for your changes (both created once, never "
        "overwritten)",
    )
    parser.add_argument(
        "--sessions",
        action="store_true",
        help="also put the handle-sessions template (win4658-sessions*, for `es ship --sessions`)",
    )


def _simulate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="event files (default: the documentation sample event)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--pipeline", default=PIPELINE_ID, help=f"installed pipeline to run (default: {PIPELINE_ID})")
    source.add_argument("--generated", action="store_true", help="run the generated pipeline without installing it")
    parser.add_argument(
        "--goldens",
        metavar="DIR",
        help="instead of PATHs, run the golden cases of DIR "
        "(test-<case>.json, e.g. ingest_pipelines/tests) and compare with their -expected.json",
    )
    parser.add_argument(
        "--update-expected",
        action="store_true",
        help="with --goldens: write the cluster's output as the expected files",
    )
    add_event_id_option(parser)


def _ship_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or archives")
    parser.add_argument("--index", help=f"target index (default: {DEFAULT_INDEX})")
    parser.add_argument("--pipeline", default=PIPELINE_ID, help=f"ingest pipeline (default: {PIPELINE_ID})")
    parser.add_argument(
        "--sessions",
        action="store_true",
        help="index one document per handle session (4656 to 4658, fields of mappings/session.yml) "
        "instead of the events, into --index (default here: win4658-sessions)",
    )
    add_event_id_option(parser)


def _hunt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="run only the rules whose rule_id or name contains this")
    parser.add_argument(
        "--rules",
        metavar="NDJSON",
        help="Kibana rules export to run (default: the rules of the "
        "installed detections, as in detections/generated/kibana_rules.ndjson)",
    )
    parser.add_argument(
        "--index", action="append", metavar="PATTERN", help="search these indices instead of each rule's"
    )
    parser.add_argument(
        "--max-hits", type=whole_number(0), default=10, metavar="N", help="hits printed per rule (default: 10)"
    )


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Setup and cluster errors become one line on stderr and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        from elasticsearch import ApiError, TransportError

        from ..elasticsearch.client import ServerAnswerError, SettingsError
        from ..elasticsearch.install import InstallError
        from ..elasticsearch.rule_search import HuntError
        from ..elasticsearch.ship import ShipError

        try:
            return func(args)
        except (SettingsError, HuntError, ShipError, InstallError, ServerAnswerError) as error:
            print(f"win4658 es: {error}", file=sys.stderr)
        except ApiError as error:
            print(
                f"win4658 es: Elasticsearch refused the request: HTTP {error.status_code} {error.message}",
                file=sys.stderr,
            )
        except TransportError as error:
            print(f"win4658 es: cannot reach Elasticsearch: {type(error).__name__}: {error.message}", file=sys.stderr)
        return 2

    return run


def _client(args: argparse.Namespace) -> "Cluster":
    from ..elasticsearch.client import USER_VARIABLE, connect, settings_from

    password = None
    if args.ask_password:
        password = getpass.getpass(f"password for {os.environ.get(USER_VARIABLE, '(unset user)')}: ")
    return connect(settings_from(os.environ, args.url, args.ca_certs, args.insecure, password))


def run_install(args: argparse.Namespace) -> int:
    from ..elasticsearch.install import install

    client = _client(args)
    outcomes = install(
        client,
        args.pipeline,
        args.template,
        args.index_patterns or [INDEX_PATTERN],
        args.data_stream,
        sessions=args.sessions,
    )
    print(f"server: {client.server}")
    for outcome in outcomes:
        print(f"{outcome.kind} {outcome.name}: {outcome.status}")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from ..elasticsearch.simulate import simulate_events

    pipeline_id, pipeline = (None, pipeline_body()) if args.generated else (args.pipeline, None)
    if args.goldens:
        return _simulate_goldens(args, pipeline_id, pipeline)
    if args.update_expected:
        print("win4658 es: --update-expected needs --goldens DIR", file=sys.stderr)
        return 2
    if missing_paths(args.paths):
        return 2
    results = read_paths(args.paths or [SAMPLE], event_ids(args))
    problems = 0
    for result in simulate_events(_client(args), results, pipeline_id, pipeline):
        if isinstance(result, RecordError):
            report_error(result)
            problems += 1
            continue
        print(json.dumps(result.document if result.error is None else {"error": result.error}, ensure_ascii=False))
        for line in [result.error] if result.error else result.differences:
            print(f"win4658: {result.origin}: {line}", file=sys.stderr)
        problems += bool(result.error or result.differences)
    print(f"simulated; documents that differ from to_ecs or failed: {problems}", file=sys.stderr)
    return 1 if problems else 0


def _simulate_goldens(args: argparse.Namespace, pipeline_id: Optional[str], pipeline: Optional[Dict[str, Any]]) -> int:
    from ..elasticsearch.simulate import check_golden, golden_cases

    client, failed = _client(args), 0
    for case in golden_cases(args.goldens):
        differing = check_golden(client, case, pipeline_id, pipeline, args.update_expected)
        status = "written" if args.update_expected else "differs" if differing else "ok"
        print(f"{os.path.basename(case.path)}: {status}")
        for record, lines in differing:
            print_lines([f"  record {record}: {line}" for line in lines])
        failed += bool(differing)
    return 1 if failed else 0


def run_ship(args: argparse.Namespace) -> int:
    from ..elasticsearch.ship import ShipAborted, ShipSummary, ship

    if missing_paths(args.paths):
        return 2
    summary = ShipSummary()
    progress = Progress("indexed")
    try:
        if args.sessions:
            from ..sessions.elastic import DEFAULT_SESSIONS_INDEX, ship_sessions

            outcomes = ship_sessions(_client(args), args.paths, args.index or DEFAULT_SESSIONS_INDEX, summary)
        else:
            outcomes = ship(
                _client(args), args.paths, args.index or DEFAULT_INDEX, event_ids(args), summary, args.pipeline
            )
        for outcome in outcomes:
            if isinstance(outcome, RecordError) or not outcome.ok:
                progress.error(outcome)
            else:
                progress.tick()
    except ShipAborted as error:
        progress.close()
        print(f"win4658 es: {error}", file=sys.stderr)
        print_lines(summary.lines())
        return 2
    progress.close()
    print_lines(summary.lines())
    return 1 if summary.failed else 0


def run_hunt(args: argparse.Namespace) -> int:
    from ..elasticsearch.rule_search import hunt, load_rules

    rules = load_rules(args.rules, args.name)
    if not rules:
        print(
            f"win4658 es: no rule in {args.rules or 'the installed detections'} matches {args.name!r}", file=sys.stderr
        )
        return 2
    failed = 0
    for result in hunt(_client(args), rules, args.index, args.max_hits):
        rule = result.rule
        status = f"error: {result.error}" if result.error else f"{result.hits} hits"
        print(f"{rule['rule_id']}  {rule.get('name', '')}  [{rule['type']}]  {status}")
        for sample in result.samples:
            print("    " + json.dumps(sample, ensure_ascii=False))
        failed += result.error is not None
    return 1 if failed else 0
