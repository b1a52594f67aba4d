"""Inference benchmark: A/A error rates, power and speed of the statistics functions.

Runs the Monte Carlo scenarios of tests/analysis/simulations.py (through the
real tsmetrics.analysis functions, vectorised over runs x looks) and times the
per-metric inference given moments: sequential against fixed (Welch), and the
unit `time` on 30 days of paired minutes. Prints the figures and writes them
to bench/out/inference.json for bench/RESULTS.md.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_inference.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

import numpy as np
from common import Stats, cpu_model, log, timed

from tests.analysis import simulations as sim
from tsmetrics.analysis import sequential, stats, time_unit

OUT = Path(__file__).resolve().parent / "out" / "inference.json"


def _pct(figure: dict) -> str:
    return f"{100 * figure['share']:.2f}% (± {100 * figure['mc_error']:.2f}, n={figure['runs']})"


def _timings(repeat: int = 2000) -> dict:
    """Per-metric cost given moments: sequential vs fixed, and `time` over 30 days."""
    control = stats.Moments.from_sums(1_234_567, 123_456_789.5, 2.3e10)
    treatment = stats.Moments.from_sums(1_230_001, 123_111_222.25, 2.29e10)
    tuning = sequential.Tuning.at(2_500_000)
    out = {}
    for inference in ("fixed", "sequential"):
        call = partial(sequential.infer, control, treatment, inference, tuning)
        out[f"sample_{inference}_ms"] = Stats.of([timed(call) for _ in range(repeat)]).__dict__
    rng = np.random.default_rng(0)
    minutes = 30 * 1440
    c = 50 + rng.normal(0, 1, minutes)
    series = time_unit.PairedMinutes(np.arange(minutes) * 60, c, c + rng.normal(0, 1, minutes))
    for inference in ("fixed", "sequential"):

        def call(inference=inference) -> None:
            time_unit.infer_time(series, inference, sequential.Tuning.at(minutes))

        out[f"time_30_days_{inference}_ms"] = Stats.of([timed(call) for _ in range(50)]).__dict__
    return out


def main() -> None:
    """Run every scenario, print a summary and write bench/out/inference.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    runs = parser.parse_args().runs
    results = {"machine": cpu_model(), "load_average_before": os.getloadavg(), "runs": runs}
    began = time.perf_counter()
    log("A/A, normal data, 1,000 looks")
    results["aa_normal"] = sim.aa_normal(seed=101, runs=runs)
    for phi in (0.9, 0.5):
        log(f"A/A, AR(1) gauges, phi = {phi}")
        results[f"aa_gauges_phi_{phi}"] = sim.aa_gauges(seed=102, phi=phi, runs=runs)
    for relative in (0.01, 0.03):
        log(f"power at a true effect of {relative:.0%}")
        results[f"power_{relative}"] = sim.power_normal(seed=103, relative=relative, runs=runs)
    log("power of `time` against `sample`, independent readings")
    results["power_cost_of_time"] = sim.power_cost_of_time(seed=104, runs=runs)
    log("family of 4 A/A metrics with corrections")
    tuning = sequential.Tuning.at(2 * sim.PER_LOOK * 1000)
    results["family_of_4"], _ = sim.family_calls(np.random.default_rng(105), runs, 1000, 4, tuning)
    results["simulation_seconds"] = time.perf_counter() - began
    log("timing the per-metric inference")
    results["timings"] = _timings()
    results["load_average_after"] = os.getloadavg()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=float))
    _summary(results)


def _summary(r: dict) -> None:
    aa = r["aa_normal"]
    print("\nSummary")
    print(
        f"- A/A normal, {aa['looks']} looks: ever called, sequential {_pct(aa['sequential_ever'])}"
    )
    print(f"  fixed (Welch at every look) {_pct(aa['fixed_ever'])}")
    for phi in (0.9, 0.5):
        g = r[f"aa_gauges_phi_{phi}"]
        print(f"- A/A AR(1) phi={phi}:")
        for key in [k for k in g if k.startswith(("time_", "sample_"))]:
            print(f"  {key}: {_pct(g[key])}")
    for relative in (0.01, 0.03):
        p = r[f"power_{relative}"]
        seq = p["sequential"]
        print(
            f"- power at {relative:.0%}: sequential {_pct(seq)}, median detection at look "
            f"{seq['median_looks_to_detection']}"
            f" ({seq['median_samples_per_variant']} per variant); "
            f"fixed at the end {_pct(p['fixed_at_end'])} (theory {p['fixed_at_end_theory']:.3f})"
        )
    cost = r["power_cost_of_time"]
    print(f"- power, independent readings, effect {cost['effect_in_sd']} sd:")
    for key in [k for k in cost if k.startswith(("time_", "sample_"))]:
        print(f"  {key}: {_pct(cost[key])}")
    print(f"- family of 4 A/A metrics, ever any call: {r['family_of_4']}")
    for key, figure in r["timings"].items():
        print(f"- {key}: p50 {figure['p50']:.3f} ms, p99 {figure['p99']:.3f} ms")
    print(f"- simulations took {r['simulation_seconds']:.1f} s; load {r['load_average_before']}")
    print(f"(figures saved to {OUT})")


if __name__ == "__main__":
    main()
