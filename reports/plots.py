"""Matplotlib figures: learning curves, score distributions. Figures are returned, never shown."""
from __future__ import annotations

from typing import Sequence

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
