"""Quantile comparison benchmark: coverage at one look and at every look, and the cost.

Runs the Monte Carlo scenarios of tests/analysis/quantile_simulations.py
(through tsmetrics.analysis.quantile_inference) on exact samples and through
tsmetrics.sketches, and times one quantile comparison read from two sketches
against one comparison of means from moments (the baseline, same run). Prints
the figures and writes them to bench/out/quantile_inference.json.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_quantile_inference.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from common import Stats, cpu_model, log, timed

from tests.analysis import quantile_simulations as sim
from tsmetrics import sketches
from tsmetrics.analysis import quantile_compare, sequential, stats
from tsmetrics.analysis import quantile_inference as qi

OUT = Path(__file__).resolve().parent / "out" / "quantile_inference.json"


def _timings(repeat: int = 500) -> dict:
    """Per comparison: p50, p95 and p99 from two 20,000-sample sketches, against means."""
    rng = np.random.default_rng(0)
    values = [rng.lognormal(4.6, 0.5, 20_000) for _ in range(2)]
    # What the API reads: a merged sketch with its cumulative counts (quantile_compare.Merged).
    reads = [quantile_compare.Merged.of(sketches.Sketch.from_values(v)) for v in values]
    moments = [stats.Moments.from_sums(20_000, 2_000_000.5, 2.1e8) for _ in range(2)]
    tuning = sequential.Tuning.at(40_000)
    out = {}
    for name, call in (
        ("means_ms", lambda: sequential.infer(*moments, "sequential", tuning)),
        (
            "three_quantiles_ms",
            lambda: [
                qi.compare(*(qi.estimate(s, q) for s in reads), "sequential", tuning)
                for q in (0.5, 0.95, 0.99)
            ],
        ),
    ):
        out[name] = Stats.of([timed(call) for _ in range(repeat)]).__dict__
    return out


def main() -> None:
    """Run every scenario, print a summary and write bench/out/quantile_inference.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    runs = parser.parse_args().runs
    results = {"machine": cpu_model(), "load_average_before": os.getloadavg(), "runs": runs}
    began = time.perf_counter()
    for name, dist in sim.DISTRIBUTIONS.items():
        for n in (2000, 20_000):
            log(f"fixed coverage, {name}, {n} per variant")
            results[f"fixed_{name}_{n}"] = sim.fixed_coverage(300 + n, dist, n, runs)
            log(f"through sketches, {name}, {n} per variant")
            results[f"sketch_{name}_{n}"] = sim.sketch_coverage(400 + n, dist, n, runs)
        for label, d in (("effect", dist), ("aa", dist.null())):
            log(f"sequential, {name}, {label}, 100 looks")
            results[f"sequential_{name}_{label}"] = sim.sequential_misses(500 + len(name), d, runs)
    results["simulation_seconds"] = time.perf_counter() - began
    results["timings"] = _timings()
    results["load_average_after"] = os.getloadavg()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, default=float))
    _summary(results)


def _pct(figure: dict) -> str:
    return f"{100 * figure['share']:.2f}% (± {100 * figure['mc_error']:.2f})"


def _coverage(f: dict) -> str:
    return f"d {_pct(f['difference'])} rel {_pct(f['relative'])} ctl {_pct(f['control'])}"


def _summary(r: dict) -> None:
    print(f"\nSummary ({r['runs']} runs per case)")
    cell_of = {
        "fixed_": _coverage,
        "sketch_": lambda f: f"{_coverage(f)} width x{f['width_over_exact']:.2f}",
        "sequential_": lambda f: (
            f"missed {_pct(f['ever_missed'])} called {_pct(f['ever_significant'])}"
        ),
    }
    for prefix, cell in cell_of.items():
        for key in [k for k in r if k.startswith(prefix)]:
            print(f"- {key}: " + "; ".join(f"{q} {cell(f)}" for q, f in r[key].items()))
    t = r["timings"]
    print(
        f"- one comparison of means {t['means_ms']['p50']:.3f} ms; p50+p95+p99 from two"
        f" 20,000-sample sketches {t['three_quantiles_ms']['p50']:.3f} ms (p50)"
    )
    print(f"- simulations took {r['simulation_seconds']:.1f} s; load {r['load_average_before']}")
    print(f"(figures saved to {OUT})")


if __name__ == "__main__":
    main()
