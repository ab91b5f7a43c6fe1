"""Architectures: what each builds, the references fit their spaces, and pairs that cannot be built say why."""
import pytest

from search_spaces import references
from pipeline.architectures import ARCHITECTURES, build_model
from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, get_problem
from search_spaces.loader import load_space



@pytest.mark.parametrize("problem_name", [p for p in PROBLEMS])
def test_reference_fits_native_space(problem_name):
    """The book's configuration can be enqueued in its native study without leaving the space."""
    space = load_space(references.native(problem_name), problem_name)
    assert space.outside(references.reference_hp(problem_name)) == []


def test_stacked_has_at_least_two_layers():
    problem = get_problem("damped_sine", length=10)
    model = build_model("stacked", problem, {"units": 4, "layers": 1})
    assert sum("lstm" in layer.name for layer in model.layers) == 2


def test_bidirectional_merge_mode_changes_width():
    problem = get_problem("cumulative_sum")
    concat = build_model("bidirectional", problem, {"units": 4, "merge_mode": "concat"})
    summed = build_model("bidirectional", problem, {"units": 4, "merge_mode": "sum"})
    assert concat.get_layer("bilstm_1").output.shape[-1] == 8
    assert summed.get_layer("bilstm_1").output.shape[-1] == 4


def test_attention_model_has_attention_layer():
    model = build_model("attention", get_problem("recall", length=10, symbols=6), {"units": 4})
    assert any(layer.name == "attention" for layer in model.layers)


@pytest.mark.parametrize("problem_name,arch,needle", [
    ("echo", "cnn_lstm", "video"),
    ("moving_square", "vanilla", "cnn_lstm"),
    ("echo", "encoder_decoder", "sequence output"),
])
def test_unbuildable_pairs_say_why(problem_name, arch, needle):
    with pytest.raises(UsageError, match=needle):
        build_model(arch, get_problem(problem_name), {})


@pytest.mark.parametrize("hp,needle", [
    ({"optimizer": "adamax"}, "adam, rmsprop"),
    ({"units": 0}, "out of range"),
    ({"dropout": "high"}, "must be a number"),
    ({"cells": 3}, "unknown hyperparameter 'cells'"),
])
def test_bad_hyperparameters_are_named(hp, needle):
    with pytest.raises(UsageError, match=needle):
        build_model("vanilla", get_problem("echo"), hp)


def test_undeclared_pair_lists_valid_architectures():
    with pytest.raises(UsageError, match="valid: encoder_decoder, attention"):
        references.check_pair("addition", "vanilla")
    with pytest.raises(UsageError, match="unknown architecture 'transformer'"):
        references.check_pair("addition", "transformer")
    assert set(ARCHITECTURES) >= {a for p in PROBLEMS for a in references.architectures_for(p)}
