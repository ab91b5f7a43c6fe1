"""Every architecture/problem pair trains end to end at a tiny size."""
import numpy as np
import pytest

from conftest import TINY
from pipeline.problems import PROBLEMS, get_problem
from pipeline.training.one_seed import TrainOptions, train_one
from search_spaces import references

SIZES = ("n_train", "n_val", "n_test")


def tiny_problem(name, csv_path=None):
    params = {k: v for k, v in TINY.get(name, {}).items() if k not in SIZES}
    if name == "csv":
        params = {"path": str(csv_path), "lags": 6}
    return get_problem(name, **params), {k: v for k, v in TINY.get(name, {}).items() if k in SIZES}


PAIRS = [(p, a) for p in PROBLEMS for a in references.architectures_for(p)]


@pytest.mark.parametrize("problem_name,arch", PAIRS, ids=[f"{p}-{a}" for p, a in PAIRS])
def test_pair_end_to_end(problem_name, arch, series_csv):
    problem, sizes = tiny_problem(problem_name, series_csv)
    splits = problem.splits(seed=0, **sizes)
    hp = {"units": 8, "epochs": 1, "batch_size": 16, "decoder_units": 8, "layers": 1}
    run = train_one(problem, arch, hp, seed=1, train=(splits.x_train, splits.y_train),
                    val=(splits.x_val, splits.y_val), options=TrainOptions(keep_models=True))
    assert run.epochs == 1 and np.isfinite(run.score)
    assert problem.metric in run.metrics and run.n_params > 0
    assert len(run.history["loss"]) == len(run.history["val_loss"]) == len(run.history[f"val_{problem.metric}"]) == 1
    pred = run.model.predict(splits.x_test[:3], verbose=0)
    assert pred.shape == (3, *problem.output_shape)
    assert len(problem.decode_y(pred)) == 3 and len(problem.decode_x(splits.x_test[:3])) == 3
