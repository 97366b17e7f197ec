import pytest
import torch

from cnnbook.widgets.losses import loss_explorer, losses_and_gradients, render_loss_explorer


@pytest.mark.parametrize("target", [0, 1])
def test_gradients_match_the_closed_forms(target):
    p = torch.tensor([0.05, 0.5, 0.9], dtype=torch.float64)
    curves = losses_and_gradients(target, p)
    _, mse_grad = curves["MSE (q − y)²"]
    _, ce_grad = curves["binary cross-entropy"]
    torch.testing.assert_close(ce_grad, p - target)  # dCE/dz = q - y
    torch.testing.assert_close(mse_grad, 2 * (p - target) * p * (1 - p))


def test_render_marks_the_prediction_on_labelled_panels():
    fig = render_loss_explorer(target=0, prediction=0.7)
    loss_ax, grad_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and "logit" in grad_ax.get_ylabel()
    assert "target is 0" in loss_ax.get_xlabel()
    markers = [line for line in loss_ax.lines if line.get_marker() == "o"]
    assert [float(m.get_xdata()[0]) for m in markers] == [0.7, 0.7]
    assert len(loss_ax.get_legend().get_texts()) == 2


def test_loss_explorer_has_target_and_prediction_controls():
    box = loss_explorer()
    assert [w.description for w in box.children[0].children] == ["target", "prediction"]
