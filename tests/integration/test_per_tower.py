"""What towers of one fused model may vary: each its own learning-rate schedule and dropout rate."""
import numpy as np
import pytest

from pipeline.architectures import resolve
from pipeline.architectures.common import learning_rate_at
from pipeline.training.towers.layers import TowerLSTM


def test_a_cosine_schedule_decays_the_rate_over_the_epochs():
    hp = resolve({"learning_rate": 0.01, "epochs": 4, "lr_schedule": "cosine"})
    assert [learning_rate_at(hp, e) for e in range(4)] == pytest.approx([0.01, 0.00853553, 0.005, 0.00146447], rel=1e-5)
    assert learning_rate_at({**hp, "lr_schedule": "constant"}, 3) == 0.01


def test_each_tower_drops_out_at_its_own_rate():
    layer = TowerLSTM(3, 4, dropout=[0.0, 0.5, 0.2])
    mask = np.asarray(layer._mask(np.ones((3, 20000, 4), "float32"), layer.dropout))
    assert np.all(mask[0] == 1.0)
    for s, rate in ((1, 0.5), (2, 0.2)):
        kept = mask[s] > 0
        assert abs(1 - kept.mean() - rate) < 0.01  # the share dropped is the tower's rate
        np.testing.assert_allclose(mask[s][kept], 1 / (1 - rate), rtol=1e-6)  # kept units are scaled up
