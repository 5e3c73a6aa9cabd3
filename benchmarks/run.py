"""win4658 benchmarks: `python benchmarks/run.py` builds the inputs, installs the peers and prints one table.

Every contender of a benchmark runs on the same file in the same invocation, paired run by run (ours, then each
peer), as a separate process whose own peak RSS is taken from wait4(). The table shows medians over the runs;
"× peer" is the median of the paired per-run speed ratios (peer seconds ÷ our seconds).
"""
import argparse
import os
import statistics
import subprocess
import sys
from typing import Callable, Dict, List, NamedTuple, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import datagen  # noqa: E402  (benchmarks/ is not a package)
from measure import Measurement, converted_counts, count_lines, run_measured  # noqa: E402

ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, ".data")
PEERS = os.path.join(HERE, ".peers")
PEER_PACKAGES = ["evtx2es==1.8.0", "evtxtoelk==2.2.0"]
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
CHUNK_SOURCE = os.path.join(CORPUS, "evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")
ALL_EVENT_IDS = ["--event-id", "4656", "--event-id", "4658", "--event-id", "4663", "--event-id", "4690"]
MIB = 1 << 20


class Contender(NamedTuple):
    name: str
    argv: Callable[[str], List[str]]  # output path → command line
    documents: Callable[[str, Measurement], Optional[int]]  # output path, measurement → documents written


class Row(NamedTuple):
    benchmark: str
    tool: str
    records: int
    documents: Optional[int]
    seconds: float
    peak_rss_mib: float
    ratios: Dict[str, float]


def win4658(*args: str) -> List[str]:
    return [os.path.join(os.path.dirname(sys.executable), "win4658"), *args]


def ours(*args: str) -> Contender:
    return Contender("win4658", lambda output: win4658(*args, "-o", output),
                     lambda output, measured: converted_counts(measured.stderr)[1])


def peers_for(evtx_path: str) -> List[Contender]:
    return [
        Contender("evtx2json 1.8.0", lambda output: [os.path.join(PEERS, "bin", "evtx2json"), evtx_path, "-q", "-o", output],
                  lambda output, measured: _indented_array_items(output)),
        Contender("evtxtoelk 2.2.0", lambda output: [os.path.join(PEERS, "bin", "evtxtoelk"), evtx_path, output],
                  lambda output, measured: count_lines(output)),
    ]


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
    paths = {"evtx": os.path.join(DATA, f"security-{args.evtx_mib}MiB.evtx"),
             "xml": os.path.join(DATA, f"events-{args.xml_events}.xml"),
             "json": os.path.join(DATA, f"events-{args.json_events}.ndjson"),
             "parts": os.path.join(DATA, f"parts-{args.parts}x{args.evtx_mib // args.parts}MiB"),
             "memory": os.path.join(DATA, f"security-{args.memory_mib}MiB.evtx")}
    wanted = set(args.only)
    if {"evtx", "workers"} & wanted and not os.path.exists(paths["evtx"]):
        datagen.build_evtx(CHUNK_SOURCE, paths["evtx"], args.evtx_mib * MIB)
    if "memory" in wanted and not os.path.exists(paths["memory"]):
        datagen.build_evtx(CHUNK_SOURCE, paths["memory"], args.memory_mib * MIB)
    if "workers" in wanted and not os.path.isdir(paths["parts"]):
        os.makedirs(paths["parts"])
        for part in range(args.parts):
            datagen.build_evtx(CHUNK_SOURCE, os.path.join(paths["parts"], f"part{part}.evtx"), args.evtx_mib // args.parts * MIB)
    pool = None
    for name, count, write in (("xml", args.xml_events, datagen.write_xml), ("json", args.json_events, datagen.write_jsonlines)):
        if name in wanted and not os.path.exists(paths[name]):
            pool = pool or datagen.corpus_pool(CORPUS)
            write(datagen.sampled_events(pool, count), paths[name])
    return paths


def run_benchmark(name: str, contenders: List[Contender], runs: int) -> List[Row]:
    """Run each contender ``runs`` times, interleaved; the first contender is ours, the rest its peers."""
    output = os.path.join(DATA, "output")
    results: Dict[str, List[Measurement]] = {contender.name: [] for contender in contenders}
    documents: Dict[str, Optional[int]] = {}
    records = 0
    for run in range(runs):
        for contender in contenders:
            measured = run_measured(contender.argv(output), output)
            results[contender.name].append(measured)
            documents[contender.name] = contender.documents(output, measured)
            if contender.name == "win4658":
                records = converted_counts(measured.stderr)[0]
            print(f"  {name} run {run + 1}/{runs}: {contender.name} {measured.seconds:.2f} s", file=sys.stderr)
    os.unlink(output)
    ours_times = [m.seconds for m in results[contenders[0].name]]
    rows = []
    for contender in contenders:
        measured = results[contender.name]
        ratios = {} if contender is not contenders[0] else {
            peer.name: statistics.median(p.seconds / o for p, o in zip(results[peer.name], ours_times)) for peer in contenders[1:]}
        rows.append(Row(name, contender.name, records, documents[contender.name],
                        statistics.median(m.seconds for m in measured),
                        max(m.peak_rss_kib for m in measured) / 1024, ratios))
    return rows


def benchmarks(args: argparse.Namespace, paths: Dict[str, str]) -> List[Row]:
    rows: List[Row] = []
    peers = [] if args.no_peers else peers_for(paths["evtx"])
    plan = {
        "evtx": lambda: run_benchmark("EVTX → ECS", [ours("convert", paths["evtx"]), *peers], args.runs),
        "xml": lambda: run_benchmark("XML → ECS", [ours("convert", paths["xml"], *ALL_EVENT_IDS)], args.runs),
        "json": lambda: run_benchmark("JSON-lines → ECS", [ours("convert", paths["json"], *ALL_EVENT_IDS)], args.runs),
        "workers": lambda: workers_benchmark(paths["parts"], args.runs),
        "memory": lambda: run_benchmark(f"EVTX {args.memory_mib} MiB → ECS (memory)", [ours("convert", paths["memory"])], 1),
    }
    for name in args.only:
        if name in plan:
            rows.extend(plan[name]())
    return rows


def workers_benchmark(parts: str, runs: int) -> List[Row]:
    """convert over several files with 1 and 2 worker processes; the ratio is the speed-up of 2 over 1."""
    two = ours("convert", "--workers", "2", parts)._replace(name="win4658 --workers 2")
    one = ours("convert", "--workers", "1", parts)._replace(name="win4658 --workers 1")
    rows = run_benchmark(f"EVTX, {len(os.listdir(parts))} files", [one, two], runs)
    return [rows[0]._replace(ratios={}), rows[1]._replace(ratios={"--workers 1": _speedup(rows)})]


def _speedup(rows: List[Row]) -> float:
    return rows[0].seconds / rows[1].seconds


def table(rows: List[Row]) -> str:
    lines = ["| benchmark | tool | records | documents | seconds | records/s | peak RSS MiB | speed × peer |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        ratios = ", ".join(f"{ratio:.1f}× {peer}" for peer, ratio in row.ratios.items())
        documents = "" if row.documents is None else f"{row.documents:,}"
        lines.append(f"| {row.benchmark} | {row.tool} | {row.records:,} | {documents} | {row.seconds:.2f} | "
                     f"{row.records / row.seconds:,.0f} | {row.peak_rss_mib:.0f} | {ratios} |")
    return "\n".join(lines)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per contender; the table shows medians (default 5)")
    parser.add_argument("--evtx-mib", type=int, default=256, help="size of the EVTX input (default 256 MiB)")
    parser.add_argument("--xml-events", type=int, default=200_000)
    parser.add_argument("--json-events", type=int, default=200_000)
    parser.add_argument("--parts", type=int, default=4, help="files in the --workers benchmark (default 4)")
    parser.add_argument("--memory-mib", type=int, default=1024, help="EVTX size of the memory check (default 1024 MiB)")
    parser.add_argument("--only", type=lambda text: text.split(","), default=["evtx", "xml", "json", "workers", "memory"],
                        help="comma-separated subset of: evtx,xml,json,workers,memory")
    parser.add_argument("--no-peers", action="store_true", help="skip evtx2json and evtxtoelk")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not os.path.isdir(CORPUS):
        print(f"the corpus is needed to build inputs: {CORPUS} is absent", file=sys.stderr)
        return 2
    if not args.no_peers:
        ensure_peers()
    paths = build_inputs(args)
    print(table(benchmarks(args, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
