"""Chapter 10's SimCLR pieces: NT-Xent against the per-pair formula, the augmentations,
and the linear probe."""

import math

import pytest
import torch
from torch import nn

from cnnbook.contrastive import (
    augment,
    conv_encoder,
    linear_probe,
    logistic_regression,
    nt_xent,
    projection_head,
    train_simclr,
    train_supervised,
)


def _nt_xent_by_pairs(z1, z2, temperature):
    """The loss as Chen et al. write it: l(i, j) = -log exp(s_ij / tau) /
    sum_{k != i} exp(s_ik / tau) for each positive pair (i, j), both orders, averaged."""
    z = torch.cat([z1, z2])
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        sim = [torch.dot(z[i], z[k]) / (z[i].norm() * z[k].norm()) / temperature
               for k in range(2 * n)]  # fmt: skip
        denominator = sum(torch.exp(sim[k]) for k in range(2 * n) if k != i)
        total += -torch.log(torch.exp(sim[j]) / denominator)
    return total / (2 * n)


@pytest.mark.parametrize(("n", "dim", "temperature"), [(1, 3, 0.5), (4, 5, 0.1), (7, 2, 1.0)])
def test_nt_xent_equals_the_per_pair_formula(n, dim, temperature):
    gen = torch.Generator().manual_seed(n)
    z1 = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    z2 = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(nt_xent(z1, z2, temperature), _nt_xent_by_pairs(z1, z2, temperature))


def test_nt_xent_of_identical_views_of_orthogonal_images():
    """Positives at similarity 1 and every negative at 0: each row is
    -log(e^(1/tau) / (e^(1/tau) + 2N - 2)), and scaling a projection changes nothing."""
    n, tau = 4, 0.5
    z = torch.eye(n, dtype=torch.float64)
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2 * n - 2))
    assert nt_xent(z, 3 * z, tau).item() == pytest.approx(expected)
    assert nt_xent(z, z.roll(1, dims=0), tau) > nt_xent(z, z, tau)  # wrong partners cost more


def test_augment_is_the_identity_with_every_range_at_zero():
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    still = augment(images, max_shift=0, max_degrees=0, noise=0, erase=0)
    torch.testing.assert_close(still, images)


def test_augment_erases_one_3x3_patch_and_repeats_with_the_generator():
    ones = torch.ones(20, 1, 8, 8)
    erased = augment(ones, max_shift=0, max_degrees=0, noise=0, erase=1.0)
    assert ((erased == 0).flatten(1).sum(1) == 9).all()
    a = augment(ones, torch.Generator().manual_seed(1))
    b = augment(ones, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert a.shape == ones.shape
    assert not torch.equal(a, augment(ones, torch.Generator().manual_seed(2)))


def test_a_one_pixel_shift_moves_the_image_by_one_pixel():
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, 3, 4] = 1.0
    gen = torch.Generator().manual_seed(0)
    moved = augment(image.expand(50, 1, 8, 8), gen, max_shift=1, max_degrees=0, noise=0, erase=0)
    assert torch.allclose(moved.sum((1, 2, 3)), torch.ones(50), atol=1e-5)  # mass kept
    rows = torch.arange(8.0)
    centre_y = (moved.sum(3).squeeze(1) * rows).sum(1)
    centre_x = (moved.sum(2).squeeze(1) * rows).sum(1)
    assert ((centre_y - 3).abs() <= 1 + 1e-5).all() and ((centre_x - 4).abs() <= 1 + 1e-5).all()


def test_logistic_regression_and_the_probe_separate_separable_classes():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat(40)
    x = torch.randn(120, 2, generator=gen) * 0.3 + torch.eye(3, 2)[labels] * 3
    model = logistic_regression(x, labels)
    assert (model(x).argmax(1) == labels).all()
    images = x.reshape(120, 1, 1, 2)
    assert linear_probe(nn.Flatten(), (images, labels), (images, labels)) == 1.0


def test_simclr_and_supervised_training_run_and_repeat():
    images = torch.rand(64, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(64) % 10
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        encoder, head = conv_encoder(8, width=4), projection_head(8, 4)
        runs.append(train_simclr(encoder, head, images, 3, "cpu", batch_size=16, seed=1))
    assert runs[0] == runs[1] and len(runs[0]) == 3
    assert all(math.isfinite(loss) for loss in runs[0])
    losses = train_supervised(conv_encoder(8, width=4), images, labels, 3, "cpu", batch_size=16)
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
