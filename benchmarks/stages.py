"""Where one conversion's time goes: `python benchmarks/stages.py FILE [--rule-by-rule]`.

Reads FILE three times in this process (CPU time): reading alone, reading + mapping to ECS, and reading + mapping
+ serializing; prints microseconds per event for each stage. ``--rule-by-rule`` maps without the compiled function,
to see what compiling the rules gains. For JSON-lines it also times ``orjson.loads`` + ``orjson.dumps`` of each line
as it is, the least any JSON → JSON conversion costs in CPython.
"""

import argparse
import time
from typing import Callable

import orjson

from win4658.event import SUPPORTED_EVENT_IDS, Event
from win4658.mapping import bundled
from win4658.readers import read_paths, sniff
from win4658.readers.jsonlines import read_jsonlines


def cpu_seconds(path: str, work: Callable[[Event], object]) -> float:
    started = time.process_time()
    for result in read_paths([path], SUPPORTED_EVENT_IDS):
        if isinstance(result, Event):
            work(result)
    return time.process_time() - started


def _is_jsonlines(path: str) -> bool:
    with open(path, "rb") as stream:
        return sniff(stream.read(4096)) is read_jsonlines


def _round_trip_seconds(path: str) -> float:
    started = time.process_time()
    with open(path, "rb") as stream:
        for line in stream:
            orjson.dumps(orjson.loads(line))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--rule-by-rule", action="store_true")
    args = parser.parse_args()
    mapping = bundled("ecs")
    apply = mapping.apply_rule_by_rule if args.rule_by_rule else mapping.apply
    events = sum(1 for result in read_paths([args.path], SUPPORTED_EVENT_IDS) if isinstance(result, Event))
    read = cpu_seconds(args.path, lambda event: None)
    mapped = cpu_seconds(args.path, apply)
    serialized = cpu_seconds(args.path, lambda event: orjson.dumps(apply(event)))
    per_event = 1e6 / max(events, 1)
    if _is_jsonlines(args.path):
        round_trip = _round_trip_seconds(args.path)
        print(f"orjson round trip of each line, no conversion: {round_trip * per_event:.1f} µs per event")
    print(
        f"{events} events: read {read * per_event:.1f} µs, map {(mapped - read) * per_event:.1f} µs, "
        f"serialize {(serialized - mapped) * per_event:.1f} µs, total {serialized * per_event:.1f} µs per event "
        f"({events / serialized:,.0f} events/s of CPU time)"
    )


if __name__ == "__main__":
    main()
