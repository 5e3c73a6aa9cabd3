"""win4658 benchmarks: `python benchmarks/run.py` builds the inputs, installs the peers and prints one table.

Every contender of a benchmark runs on the same file in the same invocation, paired run by run (ours, then each
peer, then the other way round), as a separate process whose own peak RSS and CPU time are taken from wait4(). The
table shows medians over the runs; "× peer" is the median of the paired per-run speed ratios (peer seconds ÷ our
seconds). "CPU s" is user + system time, which a machine shared with other work changes least; the cost of `hunt
--sessions` over `hunt` is given in both.
"""

import argparse
import html
import json
import os
import shutil
import statistics
import subprocess
import sys
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import datagen  # noqa: E402  (benchmarks/ is not a package)
from datagen import CHUNK_SOURCE, CORPUS, CORPUS_ABSENT, MIB  # noqa: E402
from measure import Measurement, converted_counts, count_lines, count_occurrences, run_measured  # noqa: E402

ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, ".data")
PEERS = os.path.join(HERE, ".peers")
PEER_PACKAGES = ["evtx2es==1.8.0", "evtxtoelk==2.2.0"]
BENCHMARKS = ["evtx", "xml", "json", "hunt", "sessions", "modinput", "workers", "memory"]
ALL_EVENT_IDS = ["--event-id", "4656", "--event-id", "4658", "--event-id", "4663", "--event-id", "4690"]
MODINPUT_PYTHON = os.path.join(
    os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")), "versions", "3.13.0", "bin", "python3.13"
)


class Contender(NamedTuple):
    name: str
    argv: Callable[[str], List[str]]  # output path → command line
    counts: Callable[[str, Measurement], Tuple[Optional[int], Optional[int]]]  # output, run → (records read, written)
    stdin: str = os.devnull


class Row(NamedTuple):
    benchmark: str
    tool: str
    records: int
    documents: Optional[int]
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    ratios: Dict[str, float]  # peer → median of the paired ratios of wall time
    runs: List[Measurement]
    cost: Optional[Tuple[float, float]] = None  # over another row, run by run: medians of the wall and CPU time ratios


def win4658(*args: str) -> List[str]:
    return [os.path.join(os.path.dirname(sys.executable), "win4658"), *args]


def ours(*args: str) -> Contender:
    return Contender(
        "win4658",
        lambda output: win4658(*args, "-o", output),
        lambda output, measured: converted_counts(measured.stderr),
    )


def peers_for(evtx_path: str) -> List[Contender]:
    return [
        Contender(
            "evtx2json 1.8.0",
            lambda output: [os.path.join(PEERS, "bin", "evtx2json"), evtx_path, "-q", "-o", output],
            lambda output, measured: (None, _indented_array_items(output)),
        ),
        Contender(
            "evtxtoelk 2.2.0",
            lambda output: [os.path.join(PEERS, "bin", "evtxtoelk"), evtx_path, output],
            lambda output, measured: (None, count_lines(output)),
        ),
    ]


def hunter(path: str) -> Contender:
    """win4658 hunt, findings as JSON lines; the last line is the summary with the records and events read."""
    return Contender("win4658 hunt", lambda output: win4658("hunt", "--format", "json", path), _hunt_counts)


def session_hunter(path: str) -> Contender:
    """win4658 hunt with a line per handle session as well (the findings' count; sessions are the other lines)."""
    return Contender(
        "win4658 hunt --sessions", lambda output: win4658("hunt", "--format", "json", "--sessions", path), _hunt_counts
    )


def _hunt_counts(output: str, measured: Measurement) -> Tuple[int, int]:
    with open(output, "rb") as stream:
        stream.seek(max(0, os.path.getsize(output) - 65536))
        summary = json.loads(stream.read().splitlines()[-1])["summary"]
    return summary["records"], sum(summary["findings"].values())


def modular_input(app: str, directory: str, python: str) -> Contender:
    """The packaged modular input as splunkd runs it: input definition on stdin, XML stream on stdout."""
    definition = os.path.join(DATA, "modinput-definition.xml")
    checkpoints = os.path.join(DATA, "modinput-checkpoints")

    def argv(output: str) -> List[str]:
        shutil.rmtree(checkpoints, ignore_errors=True)
        os.makedirs(checkpoints)
        with open(definition, "w", encoding="utf-8") as stream:
            stream.write(MODINPUT_DEFINITION.format(checkpoints=html.escape(checkpoints), path=html.escape(directory)))
        return [python, os.path.join(app, "bin", "win4658_files.py")]

    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Contender(
        f"win4658_files (Python {version})",
        argv,
        lambda output, measured: (None, count_occurrences(output, b"<event")),
        definition,
    )


MODINPUT_DEFINITION = (
    "<input><server_host>bench</server_host><server_uri>https://127.0.0.1:8089</server_uri><session_key>none</session_key>"
    '<checkpoint_dir>{checkpoints}</checkpoint_dir><configuration><stanza name="win4658_files://bench">'
    '<param name="path">{path}</param><param name="event_ids">4656,4658,4663,4690</param>'
    "</stanza></configuration></input>"
)


def _indented_array_items(path: str) -> int:
    """evtx2json writes one JSON array indented by 2: each record opens with a line holding only '  {'."""
    with open(path, "rb") as stream:
        return sum(1 for line in stream if line == b"  {\n")


def ensure_peers() -> None:
    if os.path.exists(os.path.join(PEERS, "bin", "evtxtoelk")):
        return
    print(f"installing {', '.join(PEER_PACKAGES)} into {PEERS} (never a dependency of win4658)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", PEERS], check=True)
    subprocess.run([os.path.join(PEERS, "bin", "pip"), "install", "-q", *PEER_PACKAGES], check=True)


def build_inputs(args: argparse.Namespace) -> Dict[str, str]:
    os.makedirs(DATA, exist_ok=True)
    paths = {
        "evtx": os.path.join(DATA, f"security-{args.evtx_mib}MiB.evtx"),
        "xml": os.path.join(DATA, f"events-{args.xml_events}.xml"),
        "json": os.path.join(DATA, f"events-{args.json_events}.ndjson"),
        "parts": os.path.join(DATA, f"parts-{args.parts}x{args.evtx_mib // args.parts}MiB"),
        "memory": os.path.join(DATA, f"security-{args.memory_mib}MiB.evtx"),
        "hunt": os.path.join(DATA, f"hunt-{args.hunt_events}.ndjson"),
        "paired": os.path.join(DATA, f"paired-{args.hunt_events}.ndjson"),
        "modinput": os.path.join(DATA, f"modinput-{args.xml_events}-{args.json_events}"),
        "app": "",
    }  # set once the package is built
    wanted = set(args.only)
    if "modinput" in wanted:
        wanted |= {"xml", "json"}
    if "sessions" in wanted:
        wanted |= {"hunt", "paired"}
    if {"evtx", "workers"} & wanted and not os.path.exists(paths["evtx"]):
        datagen.build_evtx(CHUNK_SOURCE, paths["evtx"], args.evtx_mib * MIB)
    if "memory" in wanted and not os.path.exists(paths["memory"]):
        datagen.build_evtx(CHUNK_SOURCE, paths["memory"], args.memory_mib * MIB)
    if "workers" in wanted and not os.path.isdir(paths["parts"]):
        os.makedirs(paths["parts"])
        for part in range(args.parts):
            datagen.build_evtx(
                CHUNK_SOURCE, os.path.join(paths["parts"], f"part{part}.evtx"), args.evtx_mib // args.parts * MIB
            )
    pool = None
    for name, count, write, events in (
        ("xml", args.xml_events, datagen.write_xml, datagen.sampled_events),
        ("json", args.json_events, datagen.write_jsonlines, datagen.sampled_events),
        ("hunt", args.hunt_events, datagen.write_jsonlines, datagen.sampled_events),
        ("paired", args.hunt_events, datagen.write_jsonlines, datagen.paired_events),
    ):
        if name in wanted and not os.path.exists(paths[name]):
            pool = pool or datagen.corpus_pool(CORPUS)
            write(events(pool, count), paths[name])
    if "modinput" in wanted:
        _modinput_inputs(paths)
    return paths


def _modinput_inputs(paths: Dict[str, str]) -> None:
    from win4658.splunk.package import build_package, extract_package

    if not os.path.isdir(paths["modinput"]):
        os.makedirs(paths["modinput"])
        for name in ("xml", "json"):
            os.symlink(paths[name], os.path.join(paths["modinput"], os.path.basename(paths[name])))
    shutil.rmtree(os.path.join(DATA, "apps"), ignore_errors=True)
    paths["app"] = extract_package(build_package(os.path.join(DATA, "package")), os.path.join(DATA, "apps"))


def run_benchmark(name: str, contenders: List[Contender], runs: int) -> List[Row]:
    """Run each contender ``runs`` times, interleaved; the first contender is ours, the rest its peers."""
    output = os.path.join(DATA, "output.ndjson")  # evtxtoelk writes a file only for these extensions
    results: Dict[str, List[Measurement]] = {contender.name: [] for contender in contenders}
    counts: Dict[str, Tuple[Optional[int], Optional[int]]] = {}
    for run in range(runs):
        for contender in contenders if run % 2 == 0 else contenders[::-1]:
            if os.path.exists(output):  # truncating the last run's output is not part of this run
                os.unlink(output)
            measured = run_measured(contender.argv(output), output, contender.stdin)
            results[contender.name].append(measured)
            counts[contender.name] = contender.counts(output, measured)
            print(f"  {name} run {run + 1}/{runs}: {contender.name} {measured.seconds:.2f} s", file=sys.stderr)
    os.unlink(output)
    records = counts[contenders[0].name][0] or 0  # every contender reads the same records
    rows = []
    for contender in contenders:
        measured = results[contender.name]
        ratios = (
            {}
            if contender is not contenders[0]
            else {
                peer.name: median_ratio(results[peer.name], results[contenders[0].name], "seconds")
                for peer in contenders[1:]
            }
        )
        rows.append(
            Row(
                name,
                contender.name,
                records,
                counts[contender.name][1],
                statistics.median(m.seconds for m in measured),
                statistics.median(m.cpu_seconds for m in measured),
                max(m.peak_rss_kib for m in measured) / 1024,
                ratios,
                measured,
            )
        )
    return rows


def benchmarks(args: argparse.Namespace, paths: Dict[str, str]) -> List[Row]:
    rows: List[Row] = []
    peers = [] if args.no_peers else peers_for(paths["evtx"])
    plan = {
        "evtx": lambda: run_benchmark("EVTX → ECS", [ours("convert", paths["evtx"]), *peers], args.runs),
        "xml": lambda: run_benchmark("XML → ECS", [ours("convert", paths["xml"], *ALL_EVENT_IDS)], args.runs),
        "json": lambda: run_benchmark("JSON-lines → ECS", [ours("convert", paths["json"], *ALL_EVENT_IDS)], args.runs),
        "workers": lambda: workers_benchmark(paths["parts"], args.runs),
        "hunt": lambda: run_benchmark("hunt, JSON-lines", [hunter(paths["hunt"])], args.runs),
        # hunt --sessions' row: its cost over hunt, paired run by run
        "sessions": lambda: (
            sessions_benchmark("hunt + sessions, JSON-lines", paths["hunt"], args.runs)
            + sessions_benchmark("hunt + sessions, paired JSON-lines", paths["paired"], args.runs)
        ),
        "modinput": lambda: modinput_benchmark(paths, args.runs),
        "memory": lambda: run_benchmark(
            f"EVTX {args.memory_mib} MiB → ECS (memory)", [ours("convert", paths["memory"])], 1
        ),
    }
    for name in args.only:
        if name in plan:
            rows.extend(plan[name]())
    return rows


def sessions_benchmark(name: str, path: str, runs: int) -> List[Row]:
    """hunt and hunt --sessions; the second row shows what the sessions cost, paired run by run."""
    hunt, sessions = run_benchmark(name, [hunter(path), session_hunter(path)], runs)
    cost = (median_ratio(sessions.runs, hunt.runs, "seconds"), median_ratio(sessions.runs, hunt.runs, "cpu_seconds"))
    return [hunt._replace(ratios={}), sessions._replace(cost=cost)]


def median_ratio(runs: List[Measurement], others: List[Measurement], time: str) -> float:
    """The median, over runs paired one by one, of a run's ``time`` (an attribute of Measurement) over its pair's."""
    return statistics.median(getattr(run, time) / getattr(other, time) for run, other in zip(runs, others))


def modinput_benchmark(paths: Dict[str, str], runs: int) -> List[Row]:
    """The modular input over a directory holding the XML and the JSON-lines input; records = events in them."""
    interpreters = [path for path in (MODINPUT_PYTHON, sys.executable) if os.path.exists(path)]
    rows = run_benchmark(
        "modular input, directory → stdout",
        [modular_input(paths["app"], paths["modinput"], python) for python in interpreters],
        runs,
    )
    return [row._replace(records=row.documents or 0, ratios={}) for row in rows]


def workers_benchmark(parts: str, runs: int) -> List[Row]:
    """convert over several files with 1 and 2 worker processes; the ratio is the speed-up of 2 over 1."""
    two = ours("convert", "--workers", "2", parts)._replace(name="win4658 --workers 2")
    one = ours("convert", "--workers", "1", parts)._replace(name="win4658 --workers 1")
    rows = run_benchmark(f"EVTX, {len(os.listdir(parts))} files", [one, two], runs)
    return [rows[0]._replace(ratios={}), rows[1]._replace(ratios={"--workers 1": _speedup(rows)})]


def _speedup(rows: List[Row]) -> float:
    return rows[0].seconds / rows[1].seconds


def table(rows: List[Row]) -> str:
    lines = [
        "| benchmark | tool | records | documents | seconds | CPU s | records/s | peak RSS MiB | speed × peer, cost |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        versus = ", ".join(f"{ratio:.1f}× {peer}" for peer, ratio in row.ratios.items())
        if row.cost is not None:
            versus = f"{(row.cost[0] - 1) * 100:+.1f} % wall, {(row.cost[1] - 1) * 100:+.1f} % CPU"
        documents = "" if row.documents is None else f"{row.documents:,}"
        lines.append(
            f"| {row.benchmark} | {row.tool} | {row.records:,} | {documents} | {row.seconds:.2f} | "
            f"{row.cpu_seconds:.2f} | {row.records / row.seconds:,.0f} | {row.peak_rss_mib:.0f} | {versus} |"
        )
    return "\n".join(lines)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per contender; the table shows medians (default 5)")
    parser.add_argument("--evtx-mib", type=int, default=256, help="size of the EVTX input (default 256 MiB)")
    parser.add_argument("--xml-events", type=int, default=200_000)
    parser.add_argument("--json-events", type=int, default=200_000)
    parser.add_argument("--hunt-events", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=4, help="files in the --workers benchmark (default 4)")
    parser.add_argument("--memory-mib", type=int, default=1024, help="EVTX size of the memory check (default 1024 MiB)")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=list(BENCHMARKS),
        help=f"comma-separated subset of: {','.join(BENCHMARKS)}",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip evtx2json and evtxtoelk")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if CORPUS is None:
        print(f"the corpus is needed to build inputs: {CORPUS_ABSENT}", file=sys.stderr)
        return 2
    if not args.no_peers:
        ensure_peers()
    paths = build_inputs(args)
    print(table(benchmarks(args, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
