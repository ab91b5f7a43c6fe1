"""Seeds: one function that makes a (configuration, seed) pair reproducible, and the one place that
says which seeds each stage trains on.

Every stage draws its training seeds from its own block, so a seed used to choose a configuration is
never reused to judge it:

    tune      [0, 100_000)        study s, seed i -> s * 1_000 + i   (s < 100, i < 1_000)
    report    [100_000, 200_000)  seed i -> 100_000 + i; the final refit uses the first K report seeds
    retune    [200_000, 300_000)  seed i -> 200_000 + i

`reproduce` trains the book's configuration on the tuning seeds of study 0 (it decides nothing).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np

from pipeline.errors import UsageError

_determinism_enabled = False
STUDY_BLOCK = 1_000  # seeds per study inside the tuning block


@dataclass(frozen=True)
class SeedBlock:
    """Seeds [start, start + size) of one stage."""

    stage: str
    start: int
    size: int

    def seeds(self, n: int, offset: int = 0) -> list[int]:
        """n consecutive seeds from start + offset; a UsageError when they would leave the block."""
        if n < 0 or offset < 0 or offset + n > self.size:
            raise UsageError(f"{self.stage} seeds {self.start + offset}..{self.start + offset + n - 1} leave its "
                             f"block [{self.start}, {self.start + self.size}); use fewer seeds")
        return [self.start + offset + i for i in range(n)]


TUNE = SeedBlock("tune", 0, 100_000)
REPORT = SeedBlock("report", 100_000, 100_000)
RETUNE = SeedBlock("retune", 200_000, 100_000)
BLOCKS = (TUNE, REPORT, RETUNE)


def tuning_seeds(study_seed: int, n: int) -> list[int]:
    """The fixed training seeds of a study: its trials compare on the same seeds."""
    if not 0 <= study_seed < TUNE.size // STUDY_BLOCK or n > STUDY_BLOCK:
        raise UsageError(f"--study-seed must be in 0..{TUNE.size // STUDY_BLOCK - 1} and SEEDS at most "
                         f"{STUDY_BLOCK} (got {study_seed} and {n})")
    return TUNE.seeds(n, study_seed * STUDY_BLOCK)


def report_seeds(n: int) -> list[int]:
    """The report's fresh seeds (never seen by tuning); the final refit uses the first K."""
    return REPORT.seeds(n)


def retune_seeds(n: int) -> list[int]:
    """The retune's seeds, fresh for every candidate and the baseline alike."""
    return RETUNE.seeds(n)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras/TensorFlow, with TensorFlow op determinism on."""
    global _determinism_enabled
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if not _determinism_enabled:
        tf.config.experimental.enable_op_determinism()
        _determinism_enabled = True
