"""Where one conversion's time goes: `python benchmarks/stages.py FILE [--rule-by-rule]`.

Reads FILE three times in this process (CPU time): reading alone, reading + mapping to ECS, and reading + mapping
+ serializing; prints microseconds per event for each stage. ``--rule-by-rule`` maps without the compiled function,
to see what compiling the rules gains.
"""
import argparse
import time
from typing import Callable

import orjson

from win4658.event import SUPPORTED_EVENT_IDS, Event
from win4658.mapping import bundled
from win4658.readers import read_paths


def cpu_seconds(path: str, work: Callable[[Event], object]) -> float:
    started = time.process_time()
    for result in read_paths([path], SUPPORTED_EVENT_IDS):
        if isinstance(result, Event):
            work(result)
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
    print(f"{events} events: read {read * per_event:.1f} µs, map {(mapped - read) * per_event:.1f} µs, "
          f"serialize {(serialized - mapped) * per_event:.1f} µs, total {serialized * per_event:.1f} µs per event "
          f"({events / serialized:,.0f} events/s of CPU time)")


if __name__ == "__main__":
    main()
