import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cnnbook.training import evaluate, fit


def _separable(n=200, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen)
    return TensorDataset(x, (x[:, 0] + x[:, 1] > 0).long())


def test_fit_learns_a_separable_problem_and_records_history():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train = DataLoader(_separable(), batch_size=32, shuffle=True)
    val = DataLoader(_separable(seed=1), batch_size=64)
    history = fit(
        model,
        train,
        torch.optim.SGD(model.parameters(), lr=0.5),
        epochs=5,
        device="cpu",
        val_batches=val,
        progress=False,
    )
    assert len(history.train_loss) == len(history.val_accuracy) == 5
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.9
    assert history.seconds > 0
    assert set(history.as_dict()) == {"train_loss", "val_loss", "train_accuracy", "val_accuracy"}


def test_evaluate_restores_training_mode_and_counts_correctly():
    model = nn.Sequential(nn.Dropout(0.5), nn.Identity())
    model.train()
    x = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    loss, accuracy = evaluate(model, [(x, torch.tensor([0, 0]))], "cpu")
    assert accuracy == 0.5  # dropout is off in eval, so the argmax is exact
    assert model.training
    assert loss > 0


def test_segmentation_accuracy_counts_pixels():
    logits = torch.zeros(2, 3, 4, 4)
    logits[:, 1] = 1.0  # class 1 everywhere
    targets = torch.ones(2, 4, 4, dtype=torch.long)
    targets[0, 0, :] = 2  # 4 of 32 pixels wrong
    model = nn.Identity()
    loss, accuracy = evaluate(model, [(logits, targets)], "cpu")
    assert accuracy == 28 / 32
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits, targets)))
