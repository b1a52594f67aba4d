"""A bigger run of the API fuzz test (tests/reliability/test_openapi_fuzz.py), with its figures.

The test command runs the fuzz test with 50 generated examples per operation;
this runs the same test with more (TSMETRICS_FUZZ_EXAMPLES) and prints what
was sent: generated requests, hand inputs per kind, how many answers were 5xx,
and how many POST /ingest were checked for lost or changed samples. The
poisoned-value test is included and reported whatever its outcome (it waits
for issue 14 item 1, branch wt-values).

    export TSMETRICS_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres
    PYTHONPATH=$PWD:$PWD/bench .venv/bin/python bench/fuzz_api.py [--examples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, cpu_model, log, print_summary, save_results


def main() -> None:
    """Run the fuzz test with --examples per operation; print and save its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200)
    args = parser.parse_args()
    report = Path(tempfile.mkdtemp()) / "fuzz.jsonl"
    env = {
        **os.environ,
        "TSMETRICS_FUZZ_EXAMPLES": str(args.examples),
        "TSMETRICS_FUZZ_REPORT": str(report),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["tests/reliability/test_openapi_fuzz.py"]
    log(f"fuzzing with {args.examples} examples per operation")
    started, cpu = time.perf_counter(), time.process_time()
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    children = os.times()
    figures = [json.loads(line) for line in report.read_text().splitlines()]
    by_test = {entry.pop("test"): entry for entry in figures}
    results = {
        "machine": cpu_model(),
        "examples_per_operation": args.examples,
        "seconds": round(elapsed, 1),
        "cpu_seconds": round(children.children_user + children.children_system - cpu, 1),
        "pytest": finished.stdout.strip().splitlines()[-1],
        **by_test,
    }
    if finished.returncode:
        # What failed, for the record: pytest's short summary and assertion lines.
        output = finished.stdout.splitlines()
        results["failures"] = [line for line in output if line.startswith(("E  ", "FAILED"))][:80]
        print("\n".join(results["failures"]), flush=True)
    generated, hand = by_test["generated"], by_test["hand"]
    lines = [
        f"generated requests: {generated['requests']:,} over {generated['operations']} operations"
        f" ({args.examples} examples each), 5xx: {generated['responses_5xx']}",
        f"hand inputs: {hand['requests']:,}, by kind: {hand['by_kind']}, failures: "
        f"{hand['failures']}",
        f"POST /ingest checked for lost or changed samples: {generated['ingest_requests_checked']}",
        f"poisoned values (item 1): {by_test.get('poisoned')}",
        f"{elapsed:.0f} s, pytest: {results['pytest']}",
    ]
    print_summary(lines, save_results("fuzz", results))


if __name__ == "__main__":
    main()
