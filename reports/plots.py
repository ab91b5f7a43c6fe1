"""Matplotlib figures: learning curves, score distributions. Figures are returned, never shown."""
from __future__ import annotations

from typing import Sequence

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

TRAIN_COLOUR, VAL_COLOUR = "tab:blue", "tab:orange"


def learning_curves(histories: Sequence[dict[str, list[float]]], title: str = "") -> Figure:
    """Train (blue) and validation (orange) loss per epoch, every seed overlaid."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for i, history in enumerate(histories):
        epochs = range(1, len(history.get("loss", [])) + 1)
        ax.plot(epochs, history.get("loss", []), color=TRAIN_COLOUR, alpha=0.7,
                label="train" if i == 0 else None)
        if history.get("val_loss"):
            ax.plot(epochs, history["val_loss"], color=VAL_COLOUR, alpha=0.7,
                    label="validation" if i == 0 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title or f"learning curves ({len(histories)} seeds)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    plt.close(fig)


def score_boxplot(scores: dict[str, Sequence[float]], metric: str, direction: str) -> Figure:
    """Box-and-whisker plots of candidates' test scores side by side (seeds as dots)."""
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(scores)), 4), dpi=100)
    names = list(scores)
    ax.boxplot([scores[n] for n in names], showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right")
    for i, name in enumerate(names, start=1):
        ax.scatter(np.full(len(scores[name]), i) + np.linspace(-0.12, 0.12, len(scores[name])), scores[name],
                   s=8, alpha=0.5, color="grey")
    ax.set_ylabel(f"test {metric} ({'higher' if direction == 'maximize' else 'lower'} is better)")
    ax.set_title("candidates' test scores over seeds")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def study_plots(study) -> dict[str, Figure]:
    """Optuna's optimization history and, with 2+ complete trials that differ, hyperparameter importances,
    parallel coordinates and slices."""
    import warnings

    import optuna
    from optuna.visualization import matplotlib as ovm

    figures = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        figures["history"] = ovm.plot_optimization_history(study).figure
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if len(complete) >= 2 and any(len({str(t.params.get(k)) for t in complete}) > 1 for k in complete[0].params):
            for kind, plot in (("importances", ovm.plot_param_importances), ("parallel", ovm.plot_parallel_coordinate),
                               ("slices", ovm.plot_slice)):
                try:
                    axes = plot(study)
                    figures[kind] = (np.ravel(axes)[0] if isinstance(axes, np.ndarray) else axes).figure
                except (RuntimeError, ValueError):
                    pass
    for kind, fig in figures.items():
        fig.set_size_inches(*((12, 4) if kind in ("parallel", "slices") else (6, 4)))
        with warnings.catch_warnings():  # the parallel-coordinate axes cannot be laid out tightly: as they are
            warnings.simplefilter("ignore")
            fig.tight_layout()
    return figures


def forecast_plot(x: Sequence, actual: Sequence[float], forecasts: np.ndarray, baselines: dict[str, Sequence[float]],
                  label: str, ylabel: str, title: str = "") -> Figure:
    """The test period: actual values (black), the forecast's median over seeds with the seeds' range as a
    band, and each baseline dashed. `forecasts` is (seeds, points); `x` dates or positions."""
    fig, ax = plt.subplots(figsize=(9, 4), dpi=100)
    runs = np.asarray(forecasts, float)
    ax.plot(x, actual, color="black", lw=1.6, label="actual")
    ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color="tab:blue", alpha=0.25,
                    label=f"{label}: range over {len(runs)} seeds")
    ax.plot(x, np.median(runs, axis=0), color="tab:blue", lw=1.4, label=f"{label}: median over seeds")
    for (name, values), colour in zip(baselines.items(), ("tab:red", "tab:green", "tab:purple")):
        ax.plot(x, values, color=colour, lw=1.1, ls="--", label=name)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "test period: actual, forecast and baselines")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
