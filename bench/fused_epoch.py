"""Seconds per epoch of one fused model: one structure of a problem's fidelity workload (bench.search), its 8
configurations × 3 seeds as 24 towers, trained epoch by epoch as pipeline.training.towers.fused trains them (validation
predicted after each). For comparing the step between commits: run it in a checkout of each, one after
the other, on the same machine.

Run: .venv/bin/python -m bench.fused_epoch [--problem addition] [--structure 0] [--epochs 6]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench.search import fidelity_workload
from search_spaces import references
from pipeline.architectures import build_model, resolve
from pipeline.training.towers.live import LiveTowers
from pipeline.problems import get_problem
from pipeline.training.seeding import seed_everything

SIBLINGS, SEEDS = 8, 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="addition")
    parser.add_argument("--structure", type=int, default=0, help="which of the workload's 3 structures")
    parser.add_argument("--epochs", type=int, default=6, help="timed epochs, after one untimed (tracing)")
    args = parser.parse_args()
    problem, arch = get_problem(args.problem), references.native(args.problem)
    configs = fidelity_workload(args.problem, arch, 3, SIBLINGS)[SIBLINGS * args.structure:][:SIBLINGS]
    hps = [resolve(c) for c in configs for _ in range(SEEDS)]
    splits = problem.splits(seed=0)
    plains = []
    for seed, hp in enumerate(hps):
        seed_everything(seed)
        plains.append(build_model(arch, problem, hp))
    fused = LiveTowers(problem, plains, hps, (splits.x_train, splits.y_train))
    orders = [np.random.default_rng(seed) for seed in range(len(hps))]
    fits, predicts = [], []
    for epoch in range(args.epochs + 1):
        index = np.stack([rng.permutation(len(splits.x_train)) for rng in orders], axis=1)
        start = time.perf_counter()
        fused.start_epoch(epoch)
        losses = fused.fit_epoch(splits.x_train, splits.y_train, index)
        middle = time.perf_counter()
        fused.predict(splits.x_val)
        if epoch:
            fits.append(middle - start)
            predicts.append(time.perf_counter() - middle)
    shared = {k: hps[0][k] for k in ("units", "decoder_units", "layers", "batch_size", "optimizer") if k in hps[0]}
    print(f"{args.problem} {arch} structure {args.structure} {shared}, {len(hps)} towers: fit {np.mean(fits):.3f} s "
          f"per epoch (min {min(fits):.3f}), validation {np.mean(predicts):.3f} s; tower 0's last loss {losses[0]:.6f}")


if __name__ == "__main__":
    main()
