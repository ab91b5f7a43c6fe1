"""Towers: S independent models of one structure computed as one model.

The towers are the seeds of one configuration, or the seeds of several configurations that share a
structure (pipeline.training.towers.per_tower: their learning rate, dropout, L1/L2 and initializer may differ;
each tower takes them from its own plain model). Every weight gains a leading tower axis
(pipeline.training.towers.layers), so one batched matmul per time step computes the gates of all S LSTMs at once.
Input and output gain a tower axis after the batch axis: (batch, S, ...). Tower s holds exactly the
weights of a plain model (`snapshot` + `write` / `load` move them both ways), so a fused model is S genuine
independent runs, not an ensemble.

`Towers` walks the layer graph of a model built by `pipeline.architectures` (a chain, or a DAG such as
attention's: layers with several inputs, LSTMs returning [sequence, h, c] and started from
initial_state) and maps each layer to its tower form, each plain tensor to its tower tensor; models
with unsupported layers, shared layers, masks or several inputs or outputs raise `Unfusable`.
"""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers

from pipeline.training.towers.layers import TowerBidirectional, TowerConv2D, TowerDense, TowerFrames, TowerLSTM, TowerRepeat


class Unfusable(Exception):
    """The models cannot be turned into towers (the caller trains them one by one)."""


class TooWide(Unfusable):
    """More towers than one training step can hold in memory; `towers` would fit (the caller may split)."""

    def __init__(self, towers: int, message: str) -> None:
        super().__init__(message)
        self.towers = towers


def _lstm(layer: layers.LSTM, each: list[layers.LSTM], **overrides: Any) -> TowerLSTM:
    """The TowerLSTM of `layer`; `each` holds every tower's own LSTM (its dropout and L1/L2)."""
    cfg = layer.get_config()
    if cfg.get("stateful") or not cfg.get("use_bias", True):
        raise Unfusable("stateful LSTM layers or LSTM layers without bias cannot be fused")
    regs = [lstm.kernel_regularizer for lstm in each]
    args = dict(units=cfg["units"], activation=cfg["activation"], recurrent_activation=cfg["recurrent_activation"],
                return_sequences=cfg["return_sequences"], go_backwards=cfg["go_backwards"],
                return_state=cfg["return_state"],
                dropout=[lstm.dropout for lstm in each], recurrent_dropout=[lstm.recurrent_dropout for lstm in each],
                l1=[float(getattr(r, "l1", 0.0)) for r in regs], l2=[float(getattr(r, "l2", 0.0)) for r in regs])
    return TowerLSTM(len(each), **{**args, **overrides}, name=f"{layer.name}_towers")


def _dense(layer: layers.Dense, towers: int, name: str) -> TowerDense:
    if layer.kernel_regularizer is not None or not layer.use_bias:
        raise Unfusable("Dense layers with a regularizer or without bias cannot be fused")
    return TowerDense(towers, layer.units, layer.activation, name=name)


FRAME_LAYERS = (layers.MaxPooling2D, layers.AveragePooling2D, layers.Flatten)  # weightless, per frame


def _conv(layer: layers.Conv2D, towers: int, name: str) -> TowerConv2D:
    cfg = layer.get_config()
    if cfg["data_format"] != "channels_last" or cfg["groups"] != 1 or tuple(cfg["dilation_rate"]) != (1, 1) \
            or not cfg["use_bias"] or layer.kernel_regularizer is not None or layer.bias_regularizer is not None:
        raise Unfusable("only channels-last Conv2D layers with bias, no groups, dilation or regularizer can be fused")
    return TowerConv2D(towers, cfg["filters"], cfg["kernel_size"], cfg["strides"], cfg["padding"], cfg["activation"],
                       name=name)


def tower_layer(each: list[layers.Layer]) -> layers.Layer:
    """The tower form of one layer of a plain model, from that layer in every tower's plain model."""
    layer, towers = each[0], len(each)
    name = f"{layer.name}_towers"
    if isinstance(layer, (layers.Rescaling, layers.Activation, layers.Dropout)):
        return type(layer).from_config({**layer.get_config(), "name": name})  # elementwise: shared as is
    if isinstance(layer, layers.Reshape):
        return layers.Reshape((towers, *layer.target_shape), name=name)
    if isinstance(layer, layers.LSTM):
        return _lstm(layer, each)
    if isinstance(layer, layers.Bidirectional) and isinstance(layer.forward_layer, layers.LSTM):
        def same(cfg: dict) -> dict:
            return {k: v for k, v in cfg.items() if k not in ("name", "go_backwards", "seed")}
        if layer.return_state:
            raise Unfusable("Bidirectional layers returning states cannot be fused")
        if layer.forward_layer.go_backwards or \
                same(layer.forward_layer.get_config()) != same(layer.backward_layer.get_config()):
            raise Unfusable("Bidirectional layers with different forward and backward LSTMs cannot be fused")
        forward = [b.forward_layer for b in each]
        return TowerBidirectional(_lstm(layer.forward_layer, forward + forward, go_backwards=False),
                                  layer.merge_mode, name=name)
    if isinstance(layer, layers.RepeatVector):
        return TowerRepeat(layer.n, name=name)
    if isinstance(layer, layers.Dense):
        return _dense(layer, towers, name)
    if isinstance(layer, layers.TimeDistributed) and isinstance(layer.layer, layers.Dense):
        return _dense(layer.layer, towers, name)
    if isinstance(layer, layers.TimeDistributed) and isinstance(layer.layer, layers.Conv2D):
        return _conv(layer.layer, towers, name)
    if isinstance(layer, layers.TimeDistributed) and isinstance(layer.layer, FRAME_LAYERS):
        return TowerFrames(type(layer.layer).from_config(layer.layer.get_config()), name=name)
    if type(layer) is layers.Attention:
        if layer.use_scale or layer.score_mode != "dot" or layer.dropout:
            raise Unfusable("only Attention layers with unscaled dot scores and no dropout can be fused")
        # No weights, and every op acts on the last two axes: on (B, S, T, F) it attends within each tower.
        return layers.Attention.from_config({**layer.get_config(), "name": name})
    if isinstance(layer, layers.Concatenate):
        if layer.axis == 0:
            raise Unfusable("Concatenate layers along the batch axis cannot be fused")
        return layers.Concatenate(axis=layer.axis if layer.axis < 0 else layer.axis + 1, name=name)
    raise Unfusable(f"{type(layer).__name__} layers cannot be fused")


def _tower_arguments(node: Any, tensors: dict[int, Any], lstm: bool) -> tuple[tuple, dict]:
    """The arguments of a plain layer's call (`node`) with every plain tensor swapped for its tower tensor.
    `training` is dropped (the fused model passes its own); masks and other call options are refused."""
    kwargs = dict(node.arguments.kwargs)
    if kwargs.pop("training", None):
        raise Unfusable(f"{node.operation.name} is called with training=True, which cannot be fused")
    if kwargs.pop("mask", None) is not None:
        raise Unfusable(f"{node.operation.name} is called with a mask; masks cannot be fused")
    if set(kwargs) - ({"initial_state"} if lstm else set()):
        raise Unfusable(f"{node.operation.name} is called with {sorted(kwargs)}, which cannot be fused")

    def swap(value: Any) -> Any:
        if not isinstance(value, keras.KerasTensor):
            return value
        if id(value) not in tensors:
            raise Unfusable(f"{node.operation.name} takes a tensor from an operation that is not a layer")
        return tensors[id(value)]
    return keras.tree.map_structure(swap, node.arguments.args), keras.tree.map_structure(swap, kwargs)


class Towers:
    """A fused model of one tower per plain model (all of one structure), starting from their
    weights, with weight transfer both ways."""

    def __init__(self, plains: list[keras.Model]) -> None:
        plain, towers = plains[0], len(plains)
        if len(plain.inputs) != 1 or len(plain.outputs) != 1:
            raise Unfusable("models with several inputs or outputs cannot be fused")
        shapes = [[w.shape for w in p.weights] for p in plains]
        if any(s != shapes[0] for s in shapes):
            raise Unfusable("models of different structures cannot share towers")
        self.towers = towers
        inputs = keras.Input(shape=(towers, *plain.inputs[0].shape[1:]), dtype=plain.inputs[0].dtype, name="x")
        tensors = {id(plain.inputs[0]): inputs}  # plain tensor -> its tower tensor
        self.pairs: list[tuple[int, layers.Layer]] = []  # (index in plain.layers, tower layer)
        for index, layer in enumerate(plain.layers):  # in topological order
            if isinstance(layer, layers.InputLayer):
                continue
            if len(layer._inbound_nodes) != 1:
                raise Unfusable(f"{layer.name} is called more than once; shared layers cannot be fused")
            node, tower = layer._inbound_nodes[0], tower_layer([p.layers[index] for p in plains])
            args, kwargs = _tower_arguments(node, tensors, isinstance(tower, TowerLSTM))
            outputs = keras.tree.flatten(tower(*args, **kwargs))
            if len(outputs) != len(node.outputs):
                raise Unfusable(f"the tower form of {layer.name} gives {len(outputs)} outputs, not {len(node.outputs)}")
            tensors.update((id(t), y) for t, y in zip(node.outputs, outputs))
            self.pairs.append((index, tower))
        if id(plain.outputs[0]) not in tensors:
            raise Unfusable(f"the output of {plain.name} is not computed by its layers")
        self.model = keras.Model(inputs, tensors[id(plain.outputs[0])], name=f"{plain.name}_x{towers}")
        self.load(plains)

    def load(self, plains: list[keras.Model]) -> None:
        """Set tower s to the weights of plains[s] (models of the same structure)."""
        self.restore([[p.layers[index].get_weights() for index, _ in self.pairs] for p in plains])

    def snapshot(self, s: int) -> list[list[np.ndarray]]:
        """Tower s's weights, per tower layer, in the plain model's layout."""
        return [[w[s].copy() for w in tower.get_weights()] for _, tower in self.pairs]

    def restore(self, snapshots: list[list[list[np.ndarray]]]) -> None:
        """Set every tower s to snapshots[s] (a snapshot(s) per tower)."""
        for k, (_, tower) in enumerate(self.pairs):
            tower.set_weights([np.stack([snap[k][i] for snap in snapshots]) for i in range(len(snapshots[0][k]))])

    def write(self, snapshot: list[list[np.ndarray]], plain: keras.Model) -> keras.Model:
        """Copy a tower's `snapshot` (from `snapshot`) into `plain`; return it."""
        for (index, _), weights in zip(self.pairs, snapshot):
            plain.layers[index].set_weights(weights)
        return plain

    def regularization(self, s: int) -> float:
        """Tower s's share of the regularization loss (Keras adds it to the loss it reports)."""
        return sum(tower.regularization(s) for _, tower in self.pairs
                   if isinstance(tower, (TowerLSTM, TowerBidirectional)))
