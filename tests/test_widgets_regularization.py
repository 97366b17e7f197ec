import torch

from cnnbook.data import digits, random_shift
from cnnbook.widgets.regularization import (
    TRAIN_SIZE,
    regularization_lab,
    regularization_run,
    render_regularization_lab,
)


def test_random_shift_moves_content_by_at_most_one_pixel():
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 4, 4] = 1.0
    shifted = random_shift(image.repeat(50, 1, 1, 1), 1, torch.Generator().manual_seed(0))
    positions = {tuple(torch.nonzero(s[0])[0].tolist()) for s in shifted}
    assert positions <= {(4 + dy, 4 + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert len(positions) > 1
    assert torch.allclose(shifted.sum((1, 2, 3)), torch.ones(50))


def test_runs_are_cached_and_overfit_without_regularization():
    first = regularization_run(epochs=20)
    assert regularization_run(epochs=20) is first
    assert first["train_accuracy"][-1] > first["val_accuracy"][-1]
    assert set(first) == {
        f"{split}_{metric}" for split in ("train", "val", "test") for metric in ("loss", "accuracy")
    }
    assert all(len(curve) == 20 for curve in first.values())


def test_the_test_digits_are_training_split_digits_the_network_never_sees():
    """Early stopping chooses on validation; the score of the choice must come from
    elsewhere: the training-split digits after the first TRAIN_SIZE, over a thousand of
    them, scored every epoch."""
    run = regularization_run(epochs=3)
    train, _ = digits()
    assert len(train) - TRAIN_SIZE > 1000  # a test set far larger than the 100 trained on
    assert 0.0 < run["test_accuracy"][-1] < 1.0


def test_render_compares_with_the_unregularized_run():
    fig = render_regularization_lab(dropout=0.2)
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in acc_ax.lines] == [
        "validation, no regularization",
        "training",
        "validation",
    ]
    assert loss_ax.get_yscale() == "log" and acc_ax.get_xlabel() == "epoch"
    assert "dropout 0.2" in fig._suptitle.get_text()


def test_lab_controls():
    box = regularization_lab()
    assert [w.description for w in box.children[0].children] == [
        "dropout",
        "weight decay",
        "random shifts",
    ]
