"""aqa_lib.views: the helpers the figure notebooks used to define inline (PolicyNet decisions, stage views,
element shading), and the TableStudy skeleton's figure."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from aqa_lib.views import decision_entropy, decision_frequencies, runs_of, shade_elements, stage_view


def _run(model, target, decisions, masks):
    return SimpleNamespace(config=SimpleNamespace(model=model, target=target),
                           records=lambda key: {"test/decisions": decisions, "test/stage_masks": masks}[key])


def test_decision_frequencies_count_only_real_steps_and_pool_runs():
    masks = {"0": np.array([[1, 1, 1, 0]]), "1": np.array([[1, 1]])}
    a = _run("v", "TES", {"0": np.array([[0, 0, 1, 1]]), "1": np.array([[1, 1]])}, masks)
    b = _run("v", "PCS", {"0": np.array([[1, 1, 1, 0]]), "1": np.array([[0, 1]])}, masks)
    freqs = decision_frequencies([a, b], 2)
    assert sorted(freqs) == [0, 1]
    np.testing.assert_allclose(freqs[0], [2 / 6, 4 / 6])  # the padded step (mask 0) is not counted
    np.testing.assert_allclose(freqs[1], [1 / 4, 3 / 4])
    assert runs_of([a, b], "v", "PCS") == [b] and runs_of([a, b], "w") == []
    with pytest.raises(ValueError, match="n_fusion"):
        decision_frequencies([a], 0)


def test_decision_entropy_is_one_for_uniform_and_zero_for_a_constant_policy():
    assert decision_entropy(np.array([0.25] * 4)) == pytest.approx(1.0)
    assert decision_entropy(np.array([1.0, 0.0, 0.0])) == pytest.approx(0.0)
    assert decision_entropy(np.array([1.0])) == 0.0


def test_stage_view_keeps_the_real_steps_of_one_video():
    rec = {"stage_masks/1": np.array([[1, 1, 1, 0], [1, 1, 0, 0]]),
           "msfd_attention/1/rgb": np.full((2, 4), 0.25), "msfd_attention/1/audio": np.full((2, 4), 0.75),
           "decisions/1": np.array([[0, 1, 1, 0], [2, 2, 0, 0]])}
    view = stage_view(rec, 0, 2, ["rgb", "audio"])
    assert view.attention.shape == (3, 2) and np.allclose(view.attention.sum(axis=1), 1)
    assert list(view.decisions) == [0, 1, 1]
    np.testing.assert_allclose(view.times, [2, 6, 10])  # stage 2: one step per 4 segments
    assert len(view.edges) == 4
    with pytest.raises(ValueError, match="No records of stage 1"):
        stage_view(rec, 0, 1, ["rgb"])


def test_shade_elements_draws_one_span_per_element():
    fig, ax = plt.subplots()
    truth = {"element_start": np.array([0.0, 10.0]), "element_duration": np.array([4.0, 6.0]),
             "element_quality": np.array([-1.0, 2.0])}
    norm = shade_elements(ax, truth, quality=True, label="true element")
    assert len(ax.patches) == 2 and norm.vmin == -2.0 and norm.vmax == 2.0
    assert [p.get_label() for p in ax.patches][0] == "true element"
    plt.close(fig)
