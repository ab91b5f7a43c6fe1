"""Two fixed models on the same items: McNemar's exact test, a paired test of item losses, and the
Diebold-Mariano test of forecasts (statsmodels), on constructed cases with known answers."""
import numpy as np
import pytest

from reports.stats import diebold_mariano, fixed_model_better


def test_mcnemar_counts_only_the_discordant_items():
    ensemble, single = np.zeros(1000), np.zeros(1000)
    single[:20] = 1  # 20 items only the ensemble gets right
    ensemble[20:25] = 1  # 5 only the single model gets right
    result = fixed_model_better(ensemble, single)
    assert result.test == "McNemar's exact test" and result.better
    assert result.p_value == pytest.approx(0.00204, abs=1e-5)  # binomial(25, 1/2) tail at 20
    assert "20 items right only by the first, 5 only by the second" in result.sentence("ensemble", "seed 0", 0.05)
    assert fixed_model_better(single, ensemble).p_value > 0.99
    assert fixed_model_better(single, single).p_value == 1.0


def test_regression_items_are_a_paired_test_of_the_loss():
    rng = np.random.default_rng(0)
    base = rng.exponential(1.0, 500)  # skewed squared errors
    better = base * 0.8
    assert fixed_model_better(better, base).better and fixed_model_better(better, base).test.startswith("paired t")
    same = rng.permutation(base)
    assert fixed_model_better(same, base).p_value > 0.05 or not fixed_model_better(same, base).better


def test_diebold_mariano_matches_statsmodels_and_is_one_sided():
    from statsmodels.tsa.stattools import diebold_mariano_test

    rng = np.random.default_rng(1)
    truth = np.cumsum(rng.normal(size=40))
    naive = np.r_[truth[0], truth[:-1]]
    model = truth + rng.normal(0, 0.5, 40)
    m, b = (truth - model) ** 2, (truth - naive) ** 2
    ours = diebold_mariano(m, b, horizon=1)
    theirs = diebold_mariano_test(truth, model, naive, harvey_adj=True, horizon=1, lags=0)  # horizon - 1 lags
    assert ours.statistic == pytest.approx(theirs.statistic)
    assert ours.p_value == pytest.approx(theirs.pvalue / 2 if theirs.statistic < 0 else 1 - theirs.pvalue / 2)
    assert ours.test == "Diebold-Mariano (HLN)" and "0 HAC lags" in ours.detail
    assert diebold_mariano(b, m).p_value == pytest.approx(1 - ours.p_value)


def test_a_forecast_equal_to_the_baseline_never_beats_it():
    errors = np.random.default_rng(2).normal(size=30) ** 2
    assert not diebold_mariano(errors, errors.copy()).better
