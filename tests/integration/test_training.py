"""Training one configuration: determinism, early stopping, the NaN guard, racing."""
import numpy as np
import pytest

from pipeline.errors import NonFiniteLoss
from pipeline.problems import get_problem
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.training.one_seed import train_one


@pytest.fixture(scope="module")
def addition():
    problem = get_problem("addition")
    return problem, problem.splits(seed=0, n_train=128, n_val=64, n_test=64)


def fit(problem, splits, seed, **hp):
    hp = {"units": 16, "decoder_units": 16, "epochs": 2, "batch_size": 32, **hp}
    return train_one(problem, "encoder_decoder", hp, seed, (splits.x_train, splits.y_train),
                     (splits.x_val, splits.y_val))


def test_same_configuration_and_seed_give_the_same_score(addition):
    problem, splits = addition
    a, b, c = fit(problem, splits, 7), fit(problem, splits, 7), fit(problem, splits, 8)
    assert a.history["loss"] == b.history["loss"]
    assert a.score == b.score
    assert a.history["loss"] != c.history["loss"]


def test_early_stopping_stops_and_keeps_best_epoch(addition):
    problem, splits = addition
    # A learning rate far too small: validation loss barely moves, so patience 1 ends training early.
    run = fit(problem, splits, 1, epochs=30, patience=1, optimizer="sgd", learning_rate=1e-8, momentum=0.0)
    assert run.epochs < 30
    assert run.best_epoch == int(np.argmin(run.history["val_loss"])) + 1


@pytest.mark.parametrize("fuse", [True, False])
def test_a_diverging_seed_is_recorded_when_asked_and_the_others_go_on(fuse):
    """An exploding configuration raises NonFiniteLoss (fuse=False: train_one's own guard, seed 0 first) unless
    failures are recorded; then the diverged seed is a run with its reason and the other seed trains on."""
    problem = get_problem("damped_sine", length=10)
    splits = problem.splits(seed=0, n_train=64, n_val=32, n_test=8)
    hp = {"units": 32, "activation": "relu", "optimizer": "sgd", "learning_rate": 10.0, "epochs": 5,
          "kernel_initializer": "random_uniform"}
    data = ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val))
    with pytest.raises(NonFiniteLoss, match="non-finite|nan|inf"):
        train_seeds(problem, "vanilla", hp, [0, 1], *data, options=TrainOptions(fuse=fuse))
    runs = train_seeds(problem, "vanilla", hp, [0, 1], *data, options=TrainOptions(fuse=fuse, record_failures=True))
    diverged, trained = runs  # seed 0 diverges; seed 1 (its own start and batches) trains on
    assert [r.seed for r in runs] == [0, 1] and diverged.score is None and "nan" in diverged.failure
    assert trained.failure is None and np.isfinite(trained.score) and len(trained.history["val_loss"]) > 1


@pytest.mark.parametrize("fuse", [False, True])
def test_training_leaves_no_traced_graph_behind(addition, fuse):
    """Each model trained in a long study must be freed, or time per trial grows along the study."""
    import gc

    from tensorflow.python.framework.func_graph import FuncGraph

    from pipeline.training.multi_seed import train_seeds

    problem, splits = addition
    hp = {"units": 8, "decoder_units": 8, "epochs": 1, "batch_size": 32}

    def live_graphs_after_training() -> int:
        train_seeds(problem, "encoder_decoder", hp, [1, 2], (splits.x_train, splits.y_train),
                    (splits.x_val, splits.y_val), options=TrainOptions(fuse=fuse))
        gc.collect()
        return sum(isinstance(o, FuncGraph) for o in gc.get_objects())

    first = live_graphs_after_training()  # after a first training: one-time graphs already made
    assert live_graphs_after_training() == first
