"""Seed-parallel speed-up (sequential `fit` per seed vs fused towers), the compute floor, and a test
that fused and sequential per-seed scores come from the same distribution.

Run alone: .venv/bin/python -m bench.seed_parallel [--n-train 5000] [--epochs 10] [--repeats 1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import keras
import numpy as np
from scipy import stats

from bench.common import PROBLEMS, Results, median, table, timed, workload
from bench.floor import TF_DEFAULT_THREADS, bare_loop_seconds, matmul_rate, workload_flops
from pipeline.architectures import build_model
from pipeline.training.multi_seed import TrainOptions, train_seeds


def _train(problem, arch, hp, splits, seeds, fuse):
    return train_seeds(problem, arch, hp, seeds, (splits.x_train, splits.y_train), (splits.x_val, splits.y_val),
                       options=TrainOptions(fuse=fuse))


SIZES = ((5000, 10, 1), (1500, 2, 3))  # (training samples, epochs, repeats): make tune's size, and a tiny one


def run(results: Results, sizes: tuple[tuple[int, int, int], ...] = SIZES, n_val: int = 200,
        towers: tuple[int, ...] = (3, 5)) -> None:
    rate = matmul_rate()
    results.add("floor", "matmul_gflops", round(rate / 1e9, 1), "GFLOP/s", "2048x2048 float32")
    rows, floor_rows, dist_rows = [], [], []
    for n_train, epochs, repeats in sizes:
        size = f"{n_train:,} × {epochs}"
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
                rows.append([size, name, s, f"{seq:.1f}", f"{fused:.1f}", f"**{seq / fused:.2f}×**", f"{floor:.2f}",
                             f"{fused / floor:.0f}×"])
                key = f"{name}_N{n_train}_E{epochs}_S{s}"
                results.add("seed_parallel", f"{key}_sequential_s", round(seq, 2), "s")
                results.add("seed_parallel", f"{key}_fused_s", round(fused, 2), "s")
                results.add("seed_parallel", f"{key}_speedup", round(seq / fused, 2), "x")
                results.add("floor", f"{key}_floor_s", round(floor, 3), "s", f"{flops / 1e9:.1f} GFLOP")
                if s == towers[0]:
                    bare = bare_loop_seconds(problem, arch, hp, seeds, (splits.x_train, splits.y_train), epochs)
                    floor_rows.append([size, name, s, f"{flops / 1e9:.1f}", f"{floor:.2f}", f"{bare:.1f}",
                                       f"{seq:.1f}", f"{fused:.1f}"])
                    results.add("floor", f"{key}_bare_loop_s", round(bare, 2), "s")
            u = stats.mannwhitneyu(scores[True], scores[False], alternative="two-sided")
            ks = stats.ks_2samp(scores[True], scores[False])
            dist_rows.append([size, name, len(scores[True]),
                              f"{np.mean(scores[False]):.4f} ± {np.std(scores[False], ddof=1):.4f}",
                              f"{np.mean(scores[True]):.4f} ± {np.std(scores[True], ddof=1):.4f}", f"{u.pvalue:.3f}",
                              f"{ks.pvalue:.3f}"])
            results.add("same_distribution", f"{name}_N{n_train}_mannwhitney_p", round(float(u.pvalue), 4), "p")
            results.add("same_distribution", f"{name}_N{n_train}_ks_p", round(float(ks.pvalue), 4), "p")
    setup = (f"{n_val} validation samples, batch 32, validation every epoch; median of the repeats (1 at "
             f"{sizes[0][0]:,}, {sizes[-1][2]} at {sizes[-1][0]:,})")
    results.section("2. Seed-parallel training: sequential fit vs fused towers", table(
        ["training samples × epochs", "problem (reference model)", "seeds", "sequential s", "fused s", "speed-up",
         "floor s", "fused / floor"], rows)
        + f"\n\nFirst size: `make tune`'s (5,000 samples, 10 epochs); second: a tiny one. {setup}. Floor = the "
        f"workload's FLOPs at the large-matmul rate ({rate / 1e9:.0f} GFLOP/s here, every core on one matmul).")
    results.section("Fused towers are genuine independent runs", table(
        ["training samples × epochs", "problem", "seeds per mode", "sequential val score", "fused val score",
         "Mann–Whitney p", "KS p"], dist_rows)
        + "\n\nPer-seed validation scores of all runs above (different seeds per repeat). "
        "A p-value above 0.05 means no evidence that the two modes' scores differ in distribution.")
    results.section("5. The floor: FLOPs, a bare tf.function loop and the pipeline", table(
        ["training samples × epochs", "problem", "seeds", "GFLOP", "floor s",
         "bare tf.function loop s (seeds one by one)", "sequential fit s", "fused s"], floor_rows)
        + "\n\nThe bare loop has no callbacks, no validation and no Keras `fit`: the least any "
        "one-seed-at-a-time trainer could spend.")


THREADS = {  # label -> TensorFlow's thread settings (0: TensorFlow chooses, one thread per core for each)
    "TensorFlow's defaults": TF_DEFAULT_THREADS,
    "one thread per op, ops on every core (lstm-tune's default)": {},
}


def threads(results: Results, name: str = "addition", n_train: int = 5000, epochs: int = 10, seeds: int = 3) -> None:
    """Sequential and fused training of the reference model under each thread setting, each in a fresh
    interpreter (TensorFlow reads its threads once, when it starts)."""
    rows = []
    for label, env in THREADS.items():
        code = (f"import json, bench.seed_parallel as b; print(json.dumps(b._both('{name}', {n_train}, {epochs}, "
                f"{seeds})))")
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                             check=True)
        seq, fused = json.loads(out.stdout.splitlines()[-1])
        rows.append([label, f"{seq:.1f}", f"{fused:.1f}", f"{seq / fused:.2f}×"])
        key = "tf_default" if env else "one_per_op"
        results.add("threads", f"{name}_{key}_sequential_s", round(seq, 2), "s")
        results.add("threads", f"{name}_{key}_fused_s", round(fused, 2), "s")
    results.section(f"Threads ({name}, {seeds} seeds)", table(
        ["TensorFlow threads", "sequential s", "fused s", "speed-up"], rows)
        + f"\n\n{n_train:,} training samples, {epochs} epochs, batch 32, the reference model; one run each. "
        "`pipeline/__init__.py` sets TF_NUM_INTRAOP_THREADS=1 and TF_NUM_INTEROP_THREADS to the cores unless "
        "they are set: with TensorFlow's defaults each small op is split over the cores while other ops run on "
        "them too.")


def _both(name: str, n_train: int, epochs: int, seeds: int) -> tuple[float, float]:
    """Seconds to train the reference model over `seeds` seeds sequentially, then fused."""
    problem, arch, hp, splits = workload(name, n_train, 200, epochs)
    return tuple(timed(lambda: _train(problem, arch, hp, splits, list(range(seeds)), fuse))[0]
                 for fuse in (False, True))


def video(results: Results, epochs: int = 1, towers: tuple[int, ...] = (3,), repeats: int = 1,
          n_train: int | None = None) -> None:
    """moving_square's CNN-LSTM at the problem's default sizes (what `make tune PROBLEM=moving_square`
    trains): sequential fit vs fused towers (one convolution per tower over its frames)."""
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
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    out = Results()
    run(out, ((args.n_train, args.epochs, args.repeats),))
    threads(out, n_train=args.n_train, epochs=args.epochs)
