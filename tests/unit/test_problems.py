"""Generator invariants of every problem (no training)."""
import json
import time

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, get_problem, problem_from_state
from pipeline.problems.shape_generation import rectangle_error

SYNTHETIC = [name for name in PROBLEMS if name != "csv"]
SMALL = {"moving_square": {"size": 12}}


# -- every synthetic problem ---------------------------------------------------------------------
@pytest.mark.parametrize("name", SYNTHETIC)
def test_shapes_dtypes_and_seeding(name):
    problem = get_problem(name, **SMALL.get(name, {}))
    a = problem.splits(seed=3, n_train=40, n_val=20, n_test=21)
    b = problem.splits(seed=3, n_train=40, n_val=20, n_test=21)
    c = problem.splits(seed=4, n_train=40, n_val=20, n_test=21)
    assert a.x_train.shape == (40, *problem.input_shape) and a.y_train.shape == (40, *problem.output_shape)
    assert a.x_val.shape[0] == a.y_val.shape[0] == 20 and a.x_test.shape[0] == a.y_test.shape[0] == 21
    for x, y in ((a.x_train, a.y_train), (a.x_val, a.y_val), (a.x_test, a.y_test)):
        assert str(x.dtype) == problem.input_dtype and y.dtype == np.float32
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(b, field))  # same seed, same data
    assert not np.array_equal(a.x_train, c.x_train)  # another seed, other data
    assert not np.array_equal(a.x_train[:20], a.x_val)  # the splits are independent streams
    assert not np.array_equal(a.x_val, a.x_test[:20])
    scores = problem.scores(a.y_val, a.y_val)
    assert problem.metric in scores and problem.direction in ("maximize", "minimize")
    assert scores[problem.metric] == (1.0 if problem.direction == "maximize" else 0.0)  # perfect predictions
    assert len(problem.decode_x(a.x_val[:3])) == len(problem.decode_y(a.y_val[:3])) == 3
    json.dumps([problem.decode_x(a.x_val[:2]), problem.decode_y(a.y_val[:2]), problem.state()])
    assert problem_from_state(problem.state()).params == problem.params


def test_echo_target_is_the_value_at_out_index():
    problem = get_problem("echo", out_index=3)
    s = problem.splits(0, n_train=100, n_val=1, n_test=1)
    assert s.x_train.shape == (100, 5, 10) and s.y_train.shape == (100, 10)
    assert np.array_equal(s.x_train[:, 3, :], s.y_train)
    assert np.all(s.x_train.sum(axis=-1) == 1) and set(np.unique(s.x_train)) == {0.0, 1.0}
    assert problem.decode_y(s.y_train[:4]) == [row[3] for row in problem.decode_x(s.x_train[:4])]
    assert all(isinstance(v, int) for v in problem.decode_y(s.y_train[:4]))
    wrong = np.roll(s.y_train, 1, axis=-1)
    assert problem.scores(s.y_train, wrong)["accuracy"] == 0.0


def test_damped_sine_in_unit_range_and_follows_the_formula():
    problem = get_problem("damped_sine")
    s = problem.splits(0, n_train=300, n_val=1, n_test=1)
    assert s.x_train.shape == (300, 50, 1) and s.y_train.shape == (300, 5)
    for arr in (s.x_train, s.y_train):
        assert arr.min() >= 0 and arr.max() <= 1
    assert np.allclose(s.x_train[:, 0, 0], 0.5)  # sin(0) = 0 at i = 0
    wave = np.concatenate([s.x_train[:, :, 0], s.y_train], axis=1)
    # the amplitude |value - 0.5| never grows by more than the undamped sine allows: exp(-decay * i) <= 1
    assert np.all(np.abs(wave - 0.5) <= 0.5 * np.exp(-0.01 * np.arange(55)) + 1e-6)
    scores = problem.scores(s.y_train, s.y_train + 0.1)
    assert scores["mae"] == pytest.approx(0.1, abs=1e-6) and scores["rmse"] == pytest.approx(0.1, abs=1e-6)
    assert len(problem.decode_y(s.y_train[:1])[0]) == 5


def test_moving_square_labels_balanced_and_lines_grow():
    size = 10
    problem = get_problem("moving_square", size=size)
    assert problem.input_dtype == "uint8"
    s = problem.splits(0, n_train=400, n_val=1, n_test=1)
    x, y = s.x_train[..., 0], s.y_train[:, 0]
    assert s.x_train.dtype == np.uint8 and s.x_train.shape == (400, size, size, size, 1) and set(np.unique(x)) == {0, 1}
    assert 0.4 < y.mean() < 0.6 and set(np.unique(y)) == {0.0, 1.0}
    assert np.array_equal(x.sum(axis=(2, 3)), np.tile(np.arange(1, size + 1), (400, 1)))  # one new pixel per frame
    columns = x.any(axis=2)  # (n, frame, column): which columns have a pixel
    t = np.arange(size)
    right = t[None, :] <= t[:, None]  # frame t: columns 0..t
    assert np.array_equal(columns[y == 1], np.broadcast_to(right, columns[y == 1].shape))
    assert np.array_equal(columns[y == 0], np.broadcast_to(right[:, ::-1], columns[y == 0].shape))
    assert np.array_equal(x[:, :-1], x[:, :-1] & x[:, 1:])  # drawn pixels stay in later frames
    rows = x[:, -1].argmax(axis=1)  # (n, column): the row drawn in each column
    assert np.abs(np.diff(rows, axis=1)).max() == 1  # a random walk of +-1, clipped
    assert problem.decode_y(np.array([[0.9], [0.1]])) == ["right", "left"]
    summary = problem.decode_x(s.x_train[:2])
    assert all(f"moving {way}" in text for text, way in zip(summary, problem.decode_y(s.y_train[:2])))
    assert problem.scores(s.y_train, 1 - s.y_train)["accuracy"] == 0.0


def test_moving_square_book_size_is_uint8_and_fast():
    problem = get_problem("moving_square")
    start = time.perf_counter()
    x, _ = problem.generate(200, np.random.default_rng(0))
    assert x.dtype == np.uint8 and x.shape == (200, 50, 50, 50, 1) and x.nbytes == 200 * 50 ** 3
    assert time.perf_counter() - start < 2


def total(expression: str) -> int:
    return sum(int(term) for term in expression.split("+"))


def test_addition_strings_add_up_and_encode_round_trips():
    problem = get_problem("addition")
    assert problem.input_shape == (8, 12) and problem.output_shape == (2, 12)
    s = problem.splits(0, n_train=500, n_val=1, n_test=1)
    xs, ys = problem.decode_x(s.x_train), problem.decode_y(s.y_train)
    assert all(len(x) == 8 and x == x.strip().rjust(8) for x in xs)
    assert all(total(x) == int(y) for x, y in zip(xs, ys))
    terms = np.array([[int(v) for v in x.split("+")] for x in xs])
    assert terms.min() == 1 and terms.max() == 10 and terms.shape[1] == 3
    assert np.array_equal(problem.encode_x(xs), s.x_train)
    assert problem.decode_x(problem.encode_x([" 9+6+9", "10+10+10"])) == ["   9+6+9", "10+10+10"]
    assert problem.decode_y(problem.encode_x(["1+1+1"])[:, -1:]) == ["1"]
    for outside in ("99+99+99", "9+6", "0+1+2"):  # the trained domain: 3 terms from 1 to 10
        with pytest.raises(UsageError, match="3 whole numbers from 1 to 10"):
            problem.encode_x([outside])
    with pytest.raises(UsageError, match="problem 'addition'.*outside"):
        problem.encode_x(["9*6"])
    with pytest.raises(UsageError, match="problem 'addition'.*longer than 8"):
        problem.encode_x(["10+10+10+1"])


def test_addition_other_sizes_and_speed():
    problem = get_problem("addition", terms=4, largest=250)
    assert problem.input_shape == (15, 12) and problem.output_shape == (4, 12)
    x, y = problem.generate(300, np.random.default_rng(1))
    assert all(total(a) == int(b) for a, b in zip(problem.decode_x(x), problem.decode_y(y)))
    start = time.perf_counter()
    x, _ = get_problem("addition").generate(75_000, np.random.default_rng(0))
    assert time.perf_counter() - start < 2 and x.shape == (75_000, 8, 12)


def test_cumulative_sum_labels_flip_once_and_match_the_running_sum():
    problem = get_problem("cumulative_sum")
    s = problem.splits(0, n_train=300, n_val=1, n_test=1)
    x, y = s.x_train[..., 0], s.y_train[..., 0]
    assert x.min() >= 0 and x.max() < 1 and set(np.unique(y)) == {0.0, 1.0}
    assert np.all(np.diff(y, axis=1) >= 0)  # monotone 0 -> 1: at most one flip
    assert np.array_equal(y, (np.cumsum(x, axis=1) > 2.5).astype(np.float32))
    assert problem.decode_y(s.y_train[:3]) == y[:3].astype(int).tolist()
    half = s.y_train.copy()
    half[:, 0] = 1 - half[:, 0]
    scores = problem.scores(s.y_train, half)
    assert scores["accuracy"] == pytest.approx(0.9) and scores["exact_match"] == 0.0


class Tracer:
    """A stand-in model that knows one rectangle: predicts its next corner (rows of (1, 2) points)."""

    def __init__(self, w, h):
        self.corners = np.array([[0, 0], [0, h], [w, h], [w, 0]], dtype=np.float32)

    def predict(self, x, batch_size=None, verbose=0):
        points = np.asarray(x, dtype=np.float32).reshape(-1, 2)
        nearest = np.linalg.norm(points[:, None] - self.corners[None, :3], axis=-1).argmin(axis=1)
        return self.corners[nearest + 1]


def test_shape_generation_chains_into_rectangles_and_scores_generation():
    problem = get_problem("shape_generation")
    x, y = problem.generate(31, np.random.default_rng(0))
    assert x.shape == (31, 1, 2) and y.shape == (31, 2)  # 11 rectangles, cut to exactly 31 samples
    x = x[:, 0]
    assert np.array_equal(x[1::3], y[0::3][: len(x[1::3])]) and np.array_equal(x[2::3], y[1::3])
    assert np.all(x[0::3] == 0) and np.all(y[0::3, 0] == 0) and np.all(y[2::3, 1] == 0)
    assert np.array_equal(y[1::3, 1], y[0::3, 1][:10]) and np.array_equal(y[2::3, 0], y[1::3, 0])
    assert x.min() >= 0 and x.max() < 1

    perfect = problem.generate_rectangle(Tracer(0.6, 0.4))
    assert perfect.shape == (4, 2) and np.allclose(perfect, [[0, 0], [0, 0.4], [0.6, 0.4], [0.6, 0]])
    assert rectangle_error(perfect) == pytest.approx(0.0, abs=1e-6)
    assert rectangle_error(np.zeros((4, 2))) == pytest.approx(0.1)  # a dot is degenerate
    assert rectangle_error(np.array([[0, 0], [0, 0.5], [0.02, 0.5], [0.02, 0]])) == pytest.approx(0.08)  # a line
    assert rectangle_error(np.array([[0, 0], [0, -0.5], [-0.6, -0.5], [-0.6, 0]])) > 0.5  # drawn the wrong way
    assert rectangle_error(np.array([[0, 0], [0.3, 0.5], [0.6, 0.1], [0.2, 0.4]])) > 0.2

    # evaluate: base scores on the samples, plus the rectangle the "model" draws from (0, 0)
    tracer = Tracer(0.7, 0.2)
    scores = problem.evaluate(tracer, *problem.generate(3, np.random.default_rng(1)))
    assert scores["rectangle_error"] == pytest.approx(0.0, abs=1e-6) and scores["mae"] > 0
    rect_x, rect_y = np.array([[[0, 0]], [[0, 0.2]], [[0.7, 0.2]]], np.float32), tracer.corners[1:]
    scores = problem.evaluate(tracer, rect_x, rect_y)
    assert scores["mae"] == pytest.approx(0.0, abs=1e-7) and scores["rmse"] == pytest.approx(0.0, abs=1e-7)
    assert problem.decode_y(rect_y) == [(0.0, 0.2), (0.7, 0.2), (0.7, 0.0)]


def test_recall_targets_are_the_first_inputs():
    problem = get_problem("recall", length=12, symbols=5, recall=3)
    s = problem.splits(0, n_train=200, n_val=1, n_test=1)
    assert s.x_train.shape == (200, 12, 5) and s.y_train.shape == (200, 3, 5)
    assert np.array_equal(s.x_train[:, :3], s.y_train)
    assert np.all(s.x_train.sum(-1) == 1)
    assert len(np.unique(s.x_train[:, 3:].argmax(-1))) == 5  # the later steps are random symbols too
    assert problem.decode_y(s.y_train[:2]) == [row[:3] for row in problem.decode_x(s.x_train[:2])]
    wrong = s.y_train.copy()
    wrong[:, 1] = np.roll(wrong[:, 1], 1, axis=-1)
    scores = problem.scores(s.y_train, wrong)
    assert scores["exact_match"] == 0.0 and scores["accuracy"] == pytest.approx(2 / 3)


# -- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,params,needle", [
    ("echo", {"lenght": 5}, "problem 'echo' has no parameter lenght; allowed: features, length, out_index"),
    ("echo", {"out_index": 7}, "problem 'echo': out_index must be an integer in [0, 4] (got 7)"),
    ("echo", {"length": 0}, "length must be an integer >= 1"),
    ("echo", {"length": "five"}, "problem 'echo': length='five' must be an integer"),
    ("addition", {"terms": "x"}, "terms='x'"),
    ("addition", {"terms": 1}, "terms must be an integer >= 2"),
    ("damped_sine", {"period_min": 30}, "period_max must be an integer >= 30"),
    ("damped_sine", {"decay_min": 0.5}, "need 0 <= decay_min <= decay_max"),
    ("moving_square", {"size": 3}, "size must be an integer >= 4"),
    ("recall", {"recall": 60}, "recall must be an integer in [1, 50]"),
    ("cumulative_sum", {"length": 2.5}, "length must be an integer"),
    ("shape_generation", {"size": 3}, "has no parameter size; allowed: none"),
    ("csv", {"path": "x.csv", "scaler": "robust"}, "scaler must be one of minmax, standard"),
    ("csv", {"path": "x.csv", "lags": 0}, "lags must be an integer >= 1"),
    ("csv", {"path": "x.csv", "test_fraction": 0.6}, "test_fraction must be a number in (0, 0.5)"),
    ("csv", {"path": "x.csv", "difference": "maybe"}, "difference='maybe' must be true or false"),
    ("csv", {}, "problem 'csv' needs path=<file.csv>"),
    ("nope", {}, "unknown problem 'nope'; choose one of: echo, damped_sine"),
])
def test_bad_problem_parameters(name, params, needle):
    with pytest.raises(UsageError) as err:
        get_problem(name, **params)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_parameters_from_the_command_line_are_parsed():
    assert get_problem("echo", length="7", out_index="6").input_shape == (7, 10)
    assert get_problem("damped_sine", decay_max="0.2").params["decay_max"] == 0.2


# -- csv -----------------------------------------------------------------------------------------
def write(tmp_path, frame, name="series.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_csv_windows_and_scaler_fitted_on_training_rows(series_csv):
    problem = get_problem("csv", path=str(series_csv), lags=6, horizon=2)
    assert problem.input_shape == (6, 1) and problem.output_shape == (2,)  # known before any split
    assert problem.params["target"] == "load" and "2020-01-01" in problem.describe()["date_range"]
    s = problem.splits()
    raw = pd.read_csv(series_csv)["load"].to_numpy()
    n_tr, n_va = 240 - 2 * 36, 36
    assert s.x_train.shape == (n_tr - 6 - 2 + 1, 6, 1) and s.y_train.shape == (n_tr - 6 - 2 + 1, 2)
    assert s.x_val.shape == (n_va - 1, 6, 1) and s.x_test.shape == (36 - 1, 6, 1)
    scaled = (raw - raw[:n_tr].min()) / (raw[:n_tr].max() - raw[:n_tr].min())
    assert np.allclose(s.x_train[0, :, 0], scaled[:6], atol=1e-6) and np.allclose(s.y_train[0], scaled[6:8], atol=1e-6)
    assert np.allclose(s.x_val[0, :, 0], scaled[n_tr - 6:n_tr], atol=1e-6)  # looks back into the training part
    assert np.allclose(s.y_val[:, 0], scaled[n_tr:n_tr + n_va - 1], atol=1e-6)
    assert np.allclose(s.y_test[-1], scaled[-2:], atol=1e-6)
    assert s.x_train.min() == pytest.approx(0, abs=1e-6) and s.x_train.max() == pytest.approx(1, abs=1e-6)
    assert s.x_test.max() > 1  # the trend continues past the training range: no test statistics leak in
    assert s.x_train.dtype == s.y_train.dtype == np.float32
    again = problem.splits(seed=5)
    assert np.array_equal(again.x_test, s.x_test)  # the seed does not matter: the data is the file


def test_csv_standard_scaler_features_and_date_order(tmp_path):
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame({"when": pd.date_range("2021-01-01", periods=n, freq="h").astype(str),
                          "site": ["north"] * n, "temp": rng.normal(20, 3, n), "sales": np.arange(n) * 2.0})
    path = write(tmp_path, frame.sample(frac=1, random_state=0))  # rows shuffled: the date column orders them
    problem = get_problem("csv", path=str(path), target="sales", lags=4, scaler="standard")
    assert problem.input_shape == (4, 2) and problem.columns == ["temp", "sales"] and problem.target_index == 1
    assert problem.describe()["ignored_columns"] == "site"
    s = problem.splits()
    train = frame.iloc[:70][["temp", "sales"]].to_numpy()  # the first 70% of the rows, in time order
    assert np.allclose(problem.shift, train.mean(axis=0)) and np.allclose(problem.scale, train.std(axis=0))
    assert np.allclose(s.x_train[0], (train[:4] - train.mean(axis=0)) / train.std(axis=0), atol=1e-5)
    sales = problem.decode_x(s.x_train[:1])[0]
    assert [row[1] for row in sales] == pytest.approx([0.0, 2.0, 4.0, 6.0], abs=1e-4)  # time order, original units
    assert np.allclose(problem.decode_y(s.y_train[:2]), [[8.0], [10.0]], atol=1e-4)


def test_csv_rmse_in_original_units_for_perfect_naive_and_offset_predictors(tmp_path):
    values = np.cumsum(np.random.default_rng(1).normal(0, 1, 100)) + 50
    path = write(tmp_path, pd.DataFrame({"v": values}))
    problem = get_problem("csv", path=str(path), lags=3)
    s = problem.splits()
    assert len(s.y_test) == 15  # rows 85..99
    assert problem.scores(s.y_test, s.y_test) == {"mae": 0.0, "rmse": 0.0}
    span = values[:70].max() - values[:70].min()
    offset = problem.scores(s.y_test, s.y_test + 0.1)
    assert offset["rmse"] == pytest.approx(0.1 * span, rel=1e-4) and offset["mae"] == pytest.approx(0.1 * span, rel=1e-4)

    class Naive:
        def predict(self, x, batch_size=None, verbose=0):
            return x[:, -1:, 0]

    class Perfect:
        def predict(self, x, batch_size=None, verbose=0):
            return s.y_test

    naive_rmse = np.sqrt(np.mean((values[84:99] - values[85:100]) ** 2))
    scores = problem.evaluate(Naive(), s.x_test, s.y_test)
    assert scores["rmse"] == pytest.approx(naive_rmse, rel=1e-4) and scores["naive_rmse"] == pytest.approx(naive_rmse, rel=1e-4)
    assert scores["mae"] == pytest.approx(np.mean(np.abs(values[84:99] - values[85:100])), rel=1e-4)
    assert scores["skill"] == pytest.approx(0, abs=1e-5)
    scores = problem.evaluate(Perfect(), s.x_test, s.y_test)
    assert scores["rmse"] == 0 and scores["skill"] == 1 and scores["naive_rmse"] == pytest.approx(naive_rmse, rel=1e-4)


def test_csv_differencing_inverts_to_levels(tmp_path):
    values = 100 + np.cumsum(np.random.default_rng(2).normal(0.5, 1, 120))
    path = write(tmp_path, pd.DataFrame({"level": values}))
    problem = get_problem("csv", path=str(path), lags=4, horizon=2, difference="true")
    assert problem.params["difference"] is True and problem.input_shape == (4, 1)
    s = problem.splits()
    changes = np.diff(values)
    window = problem.decode_x(s.x_train[:1])[0]  # a raw window: 5 levels, relative to the first
    assert len(window) == 5 and window[0] == [0] and np.allclose(np.diff(window, axis=0), changes[:4, None], atol=1e-4)
    assert np.allclose(problem.encode_x([json.dumps(window)]), s.x_train[:1], atol=1e-5)  # what a served model takes
    assert problem.scores(s.y_test, s.y_test)["rmse"] == 0
    # the naive (no change) forecast: level error = accumulated change over the horizon
    n = 119
    start = n - round(n * 0.15)  # first test target row, in change rows
    truth = np.stack([changes[i:i + 2] for i in range(start, n - 1)])
    naive = np.sqrt(np.mean(np.cumsum(truth, axis=1) ** 2))
    zero_change = (0 - problem.shift[0]) / problem.scale[0]
    scores = problem.evaluate(type("M", (), {"predict": lambda self, x, **k: np.full((len(x), 2), zero_change)})(),
                              s.x_test, s.y_test)
    assert scores["naive_rmse"] == pytest.approx(naive, rel=1e-4) and scores["rmse"] == pytest.approx(naive, rel=1e-4)
    # raw levels -> model input -> forecast of the next levels
    window = values[50:55]  # lags + 1 levels
    x, levels = problem.encode_windows([json.dumps(window.tolist())])
    assert x.shape == (1, 4, 1) and np.allclose(x[0, :, 0], problem._scale(np.diff(window)[:, None])[:, 0])
    true_changes = problem._scale(np.diff(values[54:57])[:, None])[:, 0][None]
    assert np.allclose(problem.decode_y(true_changes, levels)[0], values[55:57], atol=1e-4)
    assert np.allclose(problem.decode_y(true_changes)[0], np.cumsum(np.diff(values[54:57])), atol=1e-4)  # changes

    class Oracle:  # forecasts the true next changes, as a served model would be asked
        def predict(self, x, verbose=0):
            return true_changes

    forecast = json.loads(problem.predict_raw(Oracle(), [json.dumps(window.tolist())])[0])
    assert np.allclose(forecast, values[55:57], atol=1e-4)


def test_csv_preprocessing_survives_a_json_round_trip_without_the_file(series_csv, tmp_path):
    problem = get_problem("csv", path=str(series_csv), lags=6)
    prep = problem.preprocessing()
    assert {"scaler", "shift", "scale", "columns", "lags", "horizon", "difference"} <= set(prep)
    assert prep["scaler"] == "minmax" and prep["columns"] == ["load"] and prep["lags"] == 6
    state = json.loads(json.dumps(problem.state()))
    series_csv.rename(tmp_path / "moved.csv")  # prediction needs no file
    restored = problem_from_state(state)
    raw = np.linspace(10, 20, 6)
    assert np.allclose(restored.encode_x([json.dumps(raw.tolist())]), problem.encode_x(raw))  # a single array window
    assert restored.encode_x(raw[None, :, None]).shape == (1, 6, 1)
    y = np.array([[0.25], [0.5]], np.float32)
    assert restored.decode_y(y) == problem.decode_y(y)
    with pytest.raises(UsageError, match="needs 6 rows of 1 value"):
        restored.encode_x(["[1, 2, 3]"])
    with pytest.raises(UsageError, match="not a JSON list"):
        restored.encode_x(["abc"])


def test_csv_generate_is_not_supported(series_csv):
    with pytest.raises(UsageError, match="no generator"):
        get_problem("csv", path=str(series_csv)).generate(3, np.random.default_rng(0))


BAD_CSV = [
    (None, {}, "file not found"),
    ("", {}, "the file is empty"),
    ("date,load\n", {}, "has a header but no rows"),
    ("name\nx\ny\n", {}, "no numeric column: column 'name' is not numeric"),
    ("a,b\n" + "".join(f"{i},{i}\n" for i in range(80)), {"target": "price"},
     "target column 'price' not found; numeric columns: a, b"),
    ("date,load\n2020-01-01,1\n2020-01-02,abc\n" + "2020-01-03,3\n" * 60, {},
     "column 'load' is not numeric: 1 value(s) such as 'abc' in row 3"),
    ("a,b\n" + "".join(f"{i},{i if i % 7 else ''}\n" for i in range(80)), {}, "column 'b' has 12 missing value(s)"),
    ("a,b\n" + "".join(f"{i},{i}\n" for i in range(10)), {}, "10 rows are too few for lags=12 and horizon=1"),
    ("a\n" + "".join(f"{i}\n" for i in range(30)), {"lags": 3, "horizon": 5},
     "the validation part gets 4 rows, needs at least 5"),
]


@pytest.mark.parametrize("content,params,needle", BAD_CSV)
def test_bad_csv_input(tmp_path, content, params, needle):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError) as err:
        get_problem("csv", path=str(path), **params)
    message = str(err.value)
    assert message.startswith(f"problem 'csv': {path}: ") and needle in message and "\n" not in message


def test_csv_too_few_rows_says_how_many_are_needed(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(6)))
    with pytest.raises(UsageError) as err:
        get_problem("csv", path=str(path), lags=3)
    need = int(str(err.value).split("need about ")[1].split()[0])
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(need)))
    assert get_problem("csv", path=str(path), lags=3).splits().x_train.shape[0] >= 2


def test_capabilities_are_declared_by_every_problem_that_has_them():
    """A problem that scores by running the model itself declares `custom_evaluate` (fused towers then
    train its seeds one by one); one that forecasts a series declares `forecasts`."""
    from pipeline.problems.base import Problem

    for name, cls in PROBLEMS.items():
        assert cls.custom_evaluate == (cls.evaluate is not Problem.evaluate), name
        assert cls.forecasts == hasattr(cls, "test_forecasts"), name
    assert sorted(n for n, c in PROBLEMS.items() if c.custom_evaluate) == ["csv", "shape_generation"]


@pytest.mark.parametrize("name", SYNTHETIC + ["csv"])
def test_item_losses_average_back_to_the_metric(name, series_csv):
    """The per-item losses every claim about new data is tested on are the metric, item by item: their
    mean gives the problem's own score back (RMSE through the mean squared error)."""
    params = {"path": str(series_csv), "target": "load"} if name == "csv" else SMALL.get(name, {})
    problem = get_problem(name, **params)
    splits = problem.splits(0, 40, 20, 30) if name != "csv" else problem.splits()
    y = splits.y_test
    rng = np.random.default_rng(0)
    noisy = y + rng.normal(0, 0.6, y.shape).astype(y.dtype)  # wrong on some items, right on others
    losses = problem.item_losses(y, noisy)
    assert losses.shape == (len(y),) and np.all(losses >= 0)
    score = problem.scores(y, noisy)[problem.metric]
    assert problem.metric_of(float(losses.mean())) == pytest.approx(score, rel=1e-6)
    assert 0 < losses.mean() and problem.item_losses(y, y).max() == 0
