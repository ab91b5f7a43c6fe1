"""Generator invariants of every problem (no training)."""
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, get_problem, problem_from_state
from pipeline.problems.shape_generation import rectangle_error

SYNTHETIC = [name for name in PROBLEMS if name != "csv"]
SMALL = {"moving_square": {"size": 12}}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_shapes_dtypes_and_seeding(name):
    problem = get_problem(name, **SMALL.get(name, {}))
    a = problem.splits(seed=3, n_train=40, n_val=20, n_test=20)
    b = problem.splits(seed=3, n_train=40, n_val=20, n_test=20)
    c = problem.splits(seed=4, n_train=40, n_val=20, n_test=20)
    assert a.x_train.shape == (40, *problem.input_shape) and a.y_train.shape == (40, *problem.output_shape)
    assert a.x_test.shape[0] == 20 and str(a.x_train.dtype) == problem.input_dtype
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_train[:20], a.x_val)  # splits are independent draws
    assert problem.metric in problem.scores(a.y_val, a.y_val)
    assert len(problem.decode_x(a.x_val[:3])) == len(problem.decode_y(a.y_val[:3])) == 3


def test_echo_target_is_the_value_at_out_index():
    problem = get_problem("echo", out_index=3)
    s = problem.splits(0, n_train=100, n_val=1, n_test=1)
    assert np.array_equal(s.x_train[:, 3, :], s.y_train)
    assert s.x_train.sum(axis=-1).min() == 1 == s.x_train.sum(axis=-1).max()
    assert problem.scores(s.y_train, s.y_train)["accuracy"] == 1.0


def test_damped_sine_in_unit_range_and_continues_the_wave():
    s = get_problem("damped_sine").splits(0, n_train=200, n_val=1, n_test=1)
    assert s.x_train.min() >= 0 and s.x_train.max() <= 1 and s.y_train.min() >= 0 and s.y_train.max() <= 1
    assert np.allclose(s.x_train[:, 0, 0], 0.5)  # sin(0) = 0 at i = 0


def test_moving_square_labels_balanced_and_lines_grow():
    problem = get_problem("moving_square", size=10)
    s = problem.splits(0, n_train=400, n_val=1, n_test=1)
    assert s.x_train.dtype == np.uint8 and 0.4 < s.y_train.mean() < 0.6
    pixels = s.x_train[..., 0].sum(axis=(2, 3))  # per frame
    assert np.array_equal(pixels, np.tile(np.arange(1, 11), (400, 1)))  # one new pixel per frame
    first_col = s.x_train[:, 0, :, :, 0].any(axis=1).argmax(axis=1)
    assert np.array_equal(first_col == 0, s.y_train[:, 0] == 1)  # moving right starts at the left edge
    assert problem.decode_y(np.array([[0.9], [0.1]])) == ["right", "left"]


def test_addition_strings_add_up_and_encode_round_trips():
    problem = get_problem("addition")
    s = problem.splits(0, n_train=500, n_val=1, n_test=1)
    xs, ys = problem.decode_x(s.x_train), problem.decode_y(s.y_train)
    assert all(len(x) == 8 for x in xs)
    assert all(eval(x) == int(y) for x, y in zip(xs, ys))  # noqa: S307 - digits and '+' only
    assert np.array_equal(problem.encode_x(xs), s.x_train)
    assert problem.decode_x(problem.encode_x(["9+6+9"])) == ["   9+6+9"]
    with pytest.raises(UsageError, match="outside"):
        problem.encode_x(["9*6"])
    with pytest.raises(UsageError, match="longer than 8"):
        problem.encode_x(["10+10+10+1"])


def test_cumulative_sum_labels_flip_once_and_match_the_running_sum():
    problem = get_problem("cumulative_sum")
    s = problem.splits(0, n_train=300, n_val=1, n_test=1)
    y = s.y_train[..., 0]
    assert np.all(np.diff(y, axis=1) >= 0)  # monotone 0 -> 1: at most one flip
    assert np.array_equal(y, (np.cumsum(s.x_train[..., 0], axis=1) > 2.5).astype(np.float32))
    assert 0 < y.mean() < 1


def test_shape_generation_chains_into_rectangles_and_scores_generation():
    problem = get_problem("shape_generation")
    s = problem.splits(0, n_train=30, n_val=3, n_test=3)
    x, y = s.x_train[:, 0, :], s.y_train
    assert np.array_equal(x[1::3], y[0::3]) and np.array_equal(x[2::3], y[1::3])
    assert np.allclose(x[0::3], 0) and np.allclose(y[0::3, 0], 0) and np.allclose(y[2::3, 1], 0)

    class Perfect:  # a stand-in model that draws the 0.6 x 0.4 rectangle exactly
        corners = {(0.0, 0.0): (0.0, 0.4), (0.0, 0.4): (0.6, 0.4), (0.6, 0.4): (0.6, 0.0)}

        def predict(self, x, verbose=0):
            return np.array([self.corners[tuple(np.round(x.reshape(2), 4).tolist())]])

    assert problem.generate_rectangle(Perfect()).shape == (4, 2)
    assert rectangle_error(problem.generate_rectangle(Perfect())) == pytest.approx(0.0)
    assert rectangle_error(np.zeros((4, 2))) == pytest.approx(0.1)  # a dot is degenerate
    assert rectangle_error(np.array([[0, 0], [0.3, 0.5], [0.6, 0.1], [0.2, 0.4]])) > 0.2


def test_recall_targets_are_the_first_inputs():
    s = get_problem("recall", length=12, symbols=5).splits(0, n_train=50, n_val=1, n_test=1)
    assert np.array_equal(s.x_train[:, :2], s.y_train)


def test_csv_windows_scaling_metrics_and_state(series_csv):
    problem = get_problem("csv", path=str(series_csv), lags=6, horizon=2)
    s = problem.splits()
    assert problem.input_shape == (6, 1) and s.x_train.shape[1:] == (6, 1) and s.y_train.shape[1:] == (2,)
    assert s.x_train.min() == pytest.approx(0, abs=1e-6) and s.x_train.max() == pytest.approx(1, abs=1e-6)
    assert s.x_test.max() > 1  # the trend continues past the training range: no leak of test statistics
    raw = pd.read_csv(series_csv)["load"].to_numpy()
    n = len(raw)
    n_tr = n - round(n * 0.15) * 2
    truth = raw[n_tr - 6 + 6:][: len(s.y_val)]
    assert np.allclose(problem._target_units(s.y_val[:, 0]), raw[n_tr:n_tr + len(s.y_val)], atol=1e-4)
    perfect = problem.scores(s.y_val, s.y_val)
    assert perfect["rmse"] == 0 and perfect["mae"] == 0
    off = problem.scores(s.y_val, s.y_val + 0.1)
    assert off["rmse"] == pytest.approx(0.1 * problem.scale[0], rel=1e-4)  # in original units
    assert len(truth) > 0

    class Naive:
        def predict(self, x, batch_size=None, verbose=0):
            return np.repeat(x[:, -1:, 0], 2, axis=1)

    scores = problem.evaluate(Naive(), s.x_test, s.y_test)
    assert scores["rmse"] == pytest.approx(scores["naive_rmse"], rel=1e-5) and scores["skill"] == pytest.approx(0, abs=1e-5)

    restored = problem_from_state(problem.state())
    window = raw[-6:]
    assert np.allclose(restored.encode_x([str(window.tolist())]), problem._scale(window[:, None])[None])
    assert restored.decode_y(s.y_test[:1]) == problem.decode_y(s.y_test[:1])


def test_csv_differencing_inverts_to_levels(series_csv):
    problem = get_problem("csv", path=str(series_csv), lags=4, difference="true")
    s = problem.splits()
    raw = pd.read_csv(series_csv)["load"].to_numpy()
    window = raw[-5:]
    x = problem.encode_x([str(window.tolist())])
    assert x.shape == (1, 4, 1)
    change = np.array([[(1.5 - problem.shift[0]) / problem.scale[0]]])
    assert problem.decode_y(change)[0][0] == pytest.approx(window[-1] + 1.5, rel=1e-5)
    assert problem.scores(s.y_val, s.y_val)["rmse"] == 0


@pytest.mark.parametrize("name,params,needle", [
    ("echo", {"lenght": 5}, "has no parameter lenght; allowed: features, length, out_index"),
    ("echo", {"out_index": 7}, "out_index must be in [0, length-1]"),
    ("addition", {"terms": "x"}, "terms='x'"),
    ("nope", {}, "unknown problem 'nope'; choose one of: echo, damped_sine"),
])
def test_bad_problem_parameters(name, params, needle):
    with pytest.raises(UsageError) as err:
        get_problem(name, **params)
    assert needle in str(err.value)
