"""Search-space YAML: every built-in file loads; malformed files give one clear line."""
import optuna
import pytest

from pipeline.architectures import ARCHITECTURES
from pipeline.errors import UsageError
from search_spaces.loader import load_space


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_builtin_spaces_load_and_suggest(arch):
    space = load_space(arch, "addition")
    trial = optuna.create_study().ask()
    hp = space.suggest(trial)
    assert set(space.searched()) <= set(trial.params)
    assert hp["epochs"] == space.fixed()["epochs"]


def test_problem_overrides_apply():
    assert load_space("vanilla", "echo").params["batch_size"]["choices"][0] == 1
    assert load_space("vanilla", "csv").params["epochs"] == 50


@pytest.mark.parametrize("text,needle", [
    ("params: {units: {type: int, low: 64, high: 8}}", "params.units: empty range: low (64) is above high (8)"),
    ("params: {cells: {type: int, low: 1, high: 8}}", "params.cells: unknown hyperparameter"),
    ("params: {units: {type: integer, low: 1, high: 8}}", "type must be one of int, float, categorical"),
    ("params: {optimizer: {type: categorical, choices: []}}", "choices must be a non-empty list"),
    ("params: {optimizer: {type: categorical, choices: [adam, nadam]}}", "value 'nadam' is not allowed"),
    ("params: {dropout: {type: float, low: 0, high: 0.5, log: true}}", "log scale needs low > 0"),
    ("params: {units: {type: int, low: a, high: 8}}", "units"),
    ("params: {units: {type: int, low: 1, high: 8, scale: 2}}", "unknown key scale"),
    ("paramz: {}", "unknown key paramz"),
    ("params: [1, 2]", "params: expected a mapping"),
    ("params: {units: [1, 2", "not valid YAML (line"),
    ("!!python/object/apply:os.system ['echo pwned']", "not valid YAML"),
])
def test_malformed_space_names_file_key_and_rule(tmp_path, text, needle):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        load_space("vanilla", "echo", path)
    assert str(path) in str(err.value) and needle in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_space_file(tmp_path):
    with pytest.raises(UsageError, match="search space file not found"):
        load_space("vanilla", "echo", tmp_path / "nope.yaml")


def test_user_file_extends_builtin_common(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: common\nparams:\n  units: {type: int, low: 4, high: 8}\n  epochs: 2\n")
    space = load_space("vanilla", "echo", path)
    assert space.params["units"] == {"type": "int", "low": 4, "high": 8}
    assert space.params["epochs"] == 2 and "optimizer" in space.searched()


@pytest.mark.parametrize("problem", ["echo", "damped_sine", "moving_square", "addition", "cumulative_sum",
                                     "shape_generation", "recall"])
def test_the_enqueued_reference_trial_is_the_reference_configuration(problem):
    """The report knows a study's first trial as the book's reference (and does not train it twice) only if
    the hyperparameters the trial trains with are the reference configuration's, key for key (echo's
    reference trial once had decoder_units None against the reference's 25: the report trained both)."""
    from search_spaces import references
    from pipeline.architectures import resolve
    from pipeline.champion.candidate import config_key
    arch = references.native(problem)
    space = load_space(arch, problem)
    trial_hp = space.suggest(optuna.trial.FixedTrial(references.reference_params(problem, space)))
    assert config_key(arch, resolve(trial_hp)) == config_key(arch, resolve(references.reference_config(problem, space)))
