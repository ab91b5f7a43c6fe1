"""Architecture registry: name -> builder, and the one function that builds a compiled model."""
from __future__ import annotations

from typing import Any, Callable

import keras

from pipeline.architectures import (attention, bidirectional, cnn_lstm, encoder_decoder, generative, stacked,
                                    vanilla)
from pipeline.architectures.common import HP_DEFAULTS, compile_model, resolve
from pipeline.errors import UsageError

ARCHITECTURES: dict[str, Callable[[Any, dict], keras.Model]] = {
    "vanilla": vanilla.build,
    "stacked": stacked.build,
    "cnn_lstm": cnn_lstm.build,
    "encoder_decoder": encoder_decoder.build,
    "bidirectional": bidirectional.build,
    "attention": attention.build,
    "generative": generative.build,
}


def check_architecture(name: str) -> None:
    if name not in ARCHITECTURES:
        raise UsageError(f"unknown architecture '{name}'; choose one of: {', '.join(ARCHITECTURES)}")


def shape_mismatch(name: str, problem) -> str | None:
    """Why architecture `name` cannot be built for problem's shapes, or None when it can."""
    frames = len(problem.input_shape) == 4
    if name == "cnn_lstm" and not frames:
        return "cnn_lstm needs video input (frames, height, width, channels)"
    if name != "cnn_lstm" and frames:
        return f"{name} needs (steps, features) input; video needs cnn_lstm"
    if name in ("encoder_decoder", "attention") and not problem.sequence_output:
        return f"{name} needs a sequence output (steps, features)"
    return None


def build_model(name: str, problem, hp: dict[str, Any]) -> keras.Model:
    """Build and compile architecture `name` for `problem` with hyperparameters hp."""
    check_architecture(name)
    reason = shape_mismatch(name, problem)
    if reason:
        raise UsageError(f"cannot build {name} for problem '{problem.name}': {reason}")
    full = resolve(hp)
    return compile_model(ARCHITECTURES[name](problem, full), problem, full)


__all__ = ["ARCHITECTURES", "HP_DEFAULTS", "build_model", "check_architecture", "resolve", "shape_mismatch"]
