import pytest
import torch

from cnnbook.widgets.optimizers import SURFACES, optimizer_race, race, render_optimizer_race


@pytest.mark.parametrize("surface", list(SURFACES))
def test_paths_start_at_the_start_and_have_one_point_per_step(surface):
    paths = race(surface, steps=25)
    assert set(paths) == {"SGD", "momentum", "Nesterov", "Adagrad", "RMSprop", "Adam"}
    for path in paths.values():
        assert path.shape == (26, 2)
        assert path[0].tolist() == list(SURFACES[surface].start)


def test_sgd_path_is_plain_gradient_descent_on_the_bowl():
    lr = 0.01
    path = race("ill-conditioned bowl", sgd_lr=lr, steps=5)["SGD"]
    point = torch.tensor(SURFACES["ill-conditioned bowl"].start, dtype=torch.float64)
    for step in range(1, 6):
        point = point - lr * point * torch.tensor([1.0, 25.0], dtype=torch.float64)  # gradient
        torch.testing.assert_close(path[step], point)


def test_render_labels_both_panels_and_draws_every_optimizer():
    fig = render_optimizer_race("saddle", steps=20)
    ax_map, ax_loss = fig.axes
    assert ax_map.get_xlabel() and ax_map.get_ylabel() and "saddle" in ax_map.get_title()
    assert ax_loss.get_yscale() == "log" and ax_loss.get_xlabel() == "step"
    assert len(ax_loss.get_legend().get_texts()) == 6


def test_choosing_a_surface_sets_its_learning_rates():
    box = optimizer_race()
    controls = {w.description: w for row in box.children[:2] for w in row.children}
    controls["surface"].value = "ill-conditioned bowl"
    assert controls["lr (SGD)"].value == pytest.approx(SURFACES["ill-conditioned bowl"].sgd_lr)


def test_default_race_behaves_as_chapter_3_describes_it():
    """Chapter 3 measures these orderings on the widget's defaults; keep them true."""

    def reversals(path):  # sign changes of the steep (w2) step in the first 10 steps
        moves = path.diff(dim=0)[:10, 1]
        return int((moves[1:].sign() != moves[:-1].sign()).sum())

    def escape(path):  # first step with |w2| > 1
        return int((path[:, 1].abs() > 1).nonzero()[0])

    bowl = {name: reversals(path) for name, path in race("ill-conditioned bowl").items()}
    assert bowl["SGD"] == 9 and bowl["SGD"] > bowl["momentum"] > bowl["Adam"]
    saddle = {name: escape(path) for name, path in race("saddle").items()}
    assert all(saddle[name] < saddle["SGD"] for name in saddle if name != "SGD")
    assert saddle["RMSprop"] == min(saddle.values()) and saddle["Adam"] < saddle["Adagrad"]
