"""Chapter 10's GAN helpers: the losses against PyTorch's cross-entropy, the ring of
Gaussians, and the measurements of coverage and distance to the data."""

import math

import pytest
import torch
import torch.nn.functional as F

from cnnbook.gan import (
    class_shares,
    discriminator_loss,
    generate,
    generator_loss,
    logit_gradients,
    mlp_discriminator,
    mlp_generator,
    mmd,
    mode_coverage,
    nearest_distance,
    ring_centres,
    ring_of_gaussians,
    start_gradients,
    train_gan,
)


def _logits(n=257, seed=0):
    """Logits from confident to unsure, both signs, extremes included."""
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randn(n, generator=gen) * 5, torch.tensor([-100.0, 100.0, 0.0])])


def test_discriminator_loss_is_binary_cross_entropy_with_real_1_and_fake_0():
    real, fake = _logits(seed=1), _logits(seed=2)
    bce = F.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
    torch.testing.assert_close(discriminator_loss(real, fake), expected)


def test_generator_losses_are_cross_entropies_with_the_right_targets():
    fake = _logits(seed=3)
    ones, zeros = torch.ones_like(fake), torch.zeros_like(fake)
    torch.testing.assert_close(generator_loss(fake), F.binary_cross_entropy_with_logits(fake, ones))
    torch.testing.assert_close(
        generator_loss(fake, "saturating"), -F.binary_cross_entropy_with_logits(fake, zeros)
    )


def test_the_losses_stay_finite_where_the_textbook_formula_does_not():
    confident = torch.tensor([-100.0, 100.0])
    naive = torch.log(1 - torch.sigmoid(confident))  # log(1 - 1) = -inf at logit 100
    assert not torch.isfinite(naive).all()
    for loss in (
        discriminator_loss(confident, confident),
        generator_loss(confident),
        generator_loss(confident, "saturating"),
    ):
        assert torch.isfinite(loss)


def test_generator_loss_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        generator_loss(torch.zeros(3), "minimax")


def test_logit_gradients_vanish_for_the_saturating_loss_where_d_is_confident():
    logits = _logits(seed=4)
    grads = logit_gradients(logits)
    torch.testing.assert_close(grads["saturating"], -torch.sigmoid(logits))
    torch.testing.assert_close(grads["non-saturating"], -torch.sigmoid(-logits))
    confident_fake = torch.tensor([-8.0])  # D(G(z)) = 3e-4
    grads = logit_gradients(confident_fake)
    assert grads["saturating"].abs().item() < 1e-3 < 0.999 < grads["non-saturating"].abs().item()


def test_ring_of_gaussians_has_equal_modes_of_the_given_width():
    std = 0.05
    points = ring_of_gaussians(40_000, std=std, generator=torch.Generator().manual_seed(0))
    centres = ring_centres()
    assert centres.shape == (8, 2)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    distances, nearest = torch.cdist(points, centres).min(dim=1)
    shares = torch.bincount(nearest, minlength=8) / len(points)
    assert (shares - 1 / 8).abs().max() < 0.01
    offsets = points - centres[nearest]
    assert abs(offsets.std().item() - std) < 0.002
    assert offsets.mean(0).abs().max() < 0.002
    # in 2-D, the share within 3 std is 1 - exp(-9/2)
    assert abs((distances <= 3 * std).float().mean().item() - (1 - math.exp(-4.5))) < 0.003


def test_mode_coverage_counts_the_data_fully_and_a_collapse_as_one_mode():
    std, centres = 0.05, ring_centres()
    data = ring_of_gaussians(4000, std=std, generator=torch.Generator().manual_seed(1))
    modes, good = mode_coverage(data, centres, std)
    assert modes == 8 and good > 0.98
    assert mode_coverage(centres[3].expand(100, 2), centres, std) == (1, 1.0)
    assert mode_coverage(torch.zeros(100, 2), centres, std) == (0, 0.0)
    few = torch.cat([centres[:2].repeat(50, 1), centres[2:3].repeat(1, 1)])  # 1 of 101 at mode 2
    assert mode_coverage(few, centres, std) == (2, 1.0)


def test_mmd_is_near_zero_for_one_distribution_and_large_for_two():
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(300, 5, generator=gen), torch.randn(300, 5, generator=gen)
    assert abs(mmd(x, y)) < 0.01
    assert mmd(x, y + 1) > 0.1
    assert mmd(x, y + 1) == pytest.approx(mmd(y + 1, x))


def test_train_gan_runs_repeatably_and_generates_from_fixed_latents():
    data = ring_of_gaussians(512, generator=torch.Generator().manual_seed(3))
    samples, histories = [], []
    for _ in range(2):
        torch.manual_seed(0)
        G, D = mlp_generator(latent=4, hidden=16), mlp_discriminator(hidden=16)
        histories.append(train_gan(G, D, data, 5, "cpu", latent=4, batch_size=32, seed=1))
        samples.append(generate(G, 10, latent=4, seed=2))
    assert len(histories[0].d_loss) == len(histories[0].g_loss) == 5
    assert histories[0].d_loss == histories[1].d_loss
    torch.testing.assert_close(samples[0], samples[1])
    assert samples[0].shape == (10, 2)


def test_against_a_confident_discriminator_only_the_non_saturating_loss_has_a_gradient():
    torch.manual_seed(0)
    G, D = mlp_generator(hidden=16), mlp_discriminator(hidden=16)
    data = ring_of_gaussians(2048, generator=torch.Generator().manual_seed(4))
    start = start_gradients(G, D, data, 150, "cpu", batch_size=256)
    assert start.d_fake < 0.05  # D rejects the fakes
    # per sample, |d/dl log(1 - D)| = D(G(z)) and |d/dl -log D| = 1 - D(G(z))
    assert start.logit["saturating"] == pytest.approx(start.d_fake, rel=1e-4)
    assert start.logit["non-saturating"] == pytest.approx(1 - start.d_fake, rel=1e-4)
    assert start.generator["non-saturating"] > 10 * start.generator["saturating"]


def test_class_shares_and_nearest_distance_by_hand():
    classifier = torch.nn.Linear(2, 3)
    with torch.no_grad():
        classifier.weight.copy_(torch.tensor([[100.0, 0.0], [0.0, 100.0], [0.0, 0.0]]))
        classifier.bias.zero_()
    images = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    confidence, shares = class_shares(classifier, images)
    assert shares.tolist() == [0.5, 0.25, 0.25]
    assert confidence == pytest.approx(1.0, abs=1e-6)
    reference = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    assert nearest_distance(reference, reference) == 0.0
    assert nearest_distance(torch.tensor([[0.0, 1.0], [2.0, 0.0]]), reference) == 1.0
