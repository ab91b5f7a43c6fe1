"""Seed-parallel speed-up (sequential `fit` per seed vs fused towers), the compute floor, and a test
that fused and sequential per-seed scores come from the same distribution.

Run alone: .venv/bin/python -m bench.seed_parallel [--n-train 1500] [--epochs 2] [--repeats 3]
"""
from __future__ import annotations

import argparse

import keras
import numpy as np
from scipy import stats

import pipeline.live_towers as seeds_module
from bench.common import PROBLEMS, Results, median, table, timed, workload
from bench.floor import bare_loop_seconds, matmul_rate, workload_flops
from pipeline.architectures import build_model
from pipeline.multi_seed import train_seeds


def _train(problem, arch, hp, splits, seeds, fuse):
    return train_seeds(problem, arch, hp, seeds, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val),
                       fuse=fuse)


def run(results: Results, n_train: int = 1500, n_val: int = 200, epochs: int = 2, repeats: int = 3,
        towers: tuple[int, ...] = (3, 5)) -> None:
    rate = matmul_rate()
    results.add("floor", "matmul_gflops", round(rate / 1e9, 1), "GFLOP/s", "2048x2048 float32")
    rows, floor_rows, dist_rows = [], [], []
    for name in PROBLEMS:
        problem, arch, hp, splits = workload(name, n_train, n_val, epochs)
        scores = {True: [], False: []}
        for s in towers:
            times = {True: [], False: []}
            for r in range(repeats):
                seeds = [1000 * r + 10 * s + i for i in range(s)]  # fresh seeds per repeat: a wider sample
                for fuse in (False, True):
                    seconds, runs = timed(lambda: _train(problem, arch, hp, splits, seeds, fuse))
                    times[fuse].append(seconds)
                    scores[fuse] += [run.score for run in runs]
            seq, fused = median(times[False]), median(times[True])
            keras.backend.clear_session(free_memory=False)
            flops = workload_flops(build_model(arch, problem, hp), n_train, n_val, epochs, s)
            floor = flops / rate
            rows.append([name, s, f"{seq:.1f}", f"{fused:.1f}", f"**{seq / fused:.2f}×**", f"{floor:.2f}",
                         f"{fused / floor:.0f}×"])
            results.add("seed_parallel", f"{name}_S{s}_sequential_s", round(seq, 2), "s")
            results.add("seed_parallel", f"{name}_S{s}_fused_s", round(fused, 2), "s")
            results.add("seed_parallel", f"{name}_S{s}_speedup", round(seq / fused, 2), "x")
            results.add("floor", f"{name}_S{s}_floor_s", round(floor, 3), "s", f"{flops / 1e9:.1f} GFLOP")
            if s == towers[0]:
                bare = bare_loop_seconds(problem, arch, hp, seeds, (splits.x_train, splits.y_train), epochs)
                floor_rows.append([name, s, f"{flops / 1e9:.1f}", f"{floor:.2f}", f"{bare:.1f}", f"{seq:.1f}",
                                   f"{fused:.1f}"])
                results.add("floor", f"{name}_S{s}_bare_loop_s", round(bare, 2), "s")
        u = stats.mannwhitneyu(scores[True], scores[False], alternative="two-sided")
        ks = stats.ks_2samp(scores[True], scores[False])
        dist_rows.append([name, len(scores[True]), f"{np.mean(scores[False]):.4f} ± {np.std(scores[False], ddof=1):.4f}",
                          f"{np.mean(scores[True]):.4f} ± {np.std(scores[True], ddof=1):.4f}", f"{u.pvalue:.3f}",
                          f"{ks.pvalue:.3f}"])
        results.add("same_distribution", f"{name}_mannwhitney_p", round(float(u.pvalue), 4), "p")
        results.add("same_distribution", f"{name}_ks_p", round(float(ks.pvalue), 4), "p")
    size = f"{n_train:,} training and {n_val} validation samples, batch 32, {epochs} epochs, validation every epoch"
    results.section("2. Seed-parallel training: sequential fit vs fused towers", table(
        ["problem (reference model)", "seeds", "sequential s", "fused s", "speed-up", "floor s", "fused / floor"],
        rows) + f"\n\nMedian of {repeats} repeats; {size}. Floor = the workload's FLOPs at the large-matmul rate "
        f"({rate / 1e9:.0f} GFLOP/s here).")
    results.section("Fused towers are genuine independent runs", table(
        ["problem", "seeds per mode", "sequential val score", "fused val score", "Mann–Whitney p", "KS p"],
        dist_rows) + "\n\nPer-seed validation scores of all runs above (different seeds per repeat). "
        "A p-value above 0.05 means no evidence that the two modes' scores differ in distribution.")
    results.section("5. The floor: FLOPs, a bare tf.function loop and the pipeline", table(
        ["problem", "seeds", "GFLOP", "floor s", "bare tf.function loop s (seeds one by one)", "sequential fit s",
         "fused s"], floor_rows) + "\n\nThe bare loop has no callbacks, no validation and no Keras `fit`: the "
        "least any one-seed-at-a-time trainer could spend.")


def ablation(results: Results, name: str = "addition", n_train: int = 1500, n_val: int = 200, epochs: int = 2,
             repeats: int = 3) -> None:
    """Steps per execution measured on its own in the fused trainer."""
    problem, arch, hp, splits = workload(name, n_train, n_val, epochs)
    rows = []
    default = seeds_module.STEPS_PER_EXECUTION
    try:
        for spe in (1, 16):
            seeds_module.STEPS_PER_EXECUTION = spe
            seconds = median([timed(lambda: _train(problem, arch, hp, splits, [0, 1, 2], True))[0]
                              for _ in range(repeats)])
            rows.append([spe, f"{seconds:.2f}"])
            results.add("fused_ablation", f"{name}_steps_per_execution_{spe}_s", round(seconds, 2), "s")
    finally:
        seeds_module.STEPS_PER_EXECUTION = default
    results.section(f"Fused trainer pieces ({name}, 3 seeds)", table(["steps per execution", "seconds"], rows)
                    + f"\n\nDefault: {default}. XLA is not used: Keras turns `jit_compile` off while TensorFlow "
                    "op determinism is on, and determinism (a configuration and seed give the same score) comes "
                    "first.")


def video(results: Results, epochs: int = 1, towers: tuple[int, ...] = (3,), repeats: int = 1,
          n_train: int | None = None) -> None:
    """moving_square's CNN-LSTM at the problem's default sizes (what `make tune PROBLEM=moving_square`
    trains): sequential fit vs fused towers (one grouped convolution over every tower's frames)."""
    problem, arch, hp, _ = workload("moving_square", 8, 8, epochs)
    sizes = {**problem.sizes, **({"n_train": n_train} if n_train else {})}
    splits = problem.splits(seed=0, **sizes)
    rows = []
    for s in towers:
        times = {False: [], True: []}
        for r in range(repeats):
            for fuse in (False, True):
                times[fuse].append(timed(lambda: _train(problem, arch, hp, splits, list(range(100 * r, 100 * r + s)),
                                                        fuse))[0])
        seq, fused = median(times[False]), median(times[True])
        rows.append(["moving_square", s, f"{seq:.1f}", f"{fused:.1f}", f"**{seq / fused:.2f}×**"])
        results.add("video", f"moving_square_S{s}_speedup", round(seq / fused, 2), "x")
    results.section("Seed-parallel CNN-LSTM (moving_square videos)", table(
        ["problem (reference cnn_lstm)", "seeds", "sequential s", "fused s", "speed-up"], rows)
        + f"\n\n{sizes['n_train']:,} training and {sizes['n_val']} validation videos of "
        f"{problem.params['size']}³ pixels (the problem's defaults), batch 32, {epochs} epochs, median of {repeats}.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-train", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    out = Results()
    run(out, args.n_train, epochs=args.epochs, repeats=args.repeats)
    ablation(out, n_train=args.n_train, epochs=args.epochs, repeats=args.repeats)
