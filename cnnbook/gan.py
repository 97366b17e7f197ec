"""Generative adversarial networks (Goodfellow et al., 2014) on a ring of Gaussians and
on the 8x8 digits, with the losses written out and the measurements that tell a
generator that covers the data from one that has collapsed onto part of it.

A discriminator D outputs a logit l, with D(x) = sigmoid(l). Every loss here is written
with softplus(t) = log(1 + e^t), since -log sigmoid(l) = softplus(-l) and
-log(1 - sigmoid(l)) = softplus(l): this never takes the log of a probability that has
rounded to 0 or 1, which is where the textbook formula returns inf or nan.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import runtime
from cnnbook.activation_race import one_cpu_thread

GENERATOR_LOSSES = ("non-saturating", "saturating")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Mean of -log D(x) - log(1 - D(G(z))): the cross-entropy of telling real (label 1)
    from fake (label 0), which D minimises."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "non-saturating") -> torch.Tensor:
    """What G minimises: -log D(G(z)) ("non-saturating"), or the minimax game's own
    log(1 - D(G(z))) ("saturating").

    Both push D(G(z)) up, but their gradients with respect to the logit differ:
    d/dl log(1 - sigmoid(l)) = -sigmoid(l) = -D(G(z)), which vanishes exactly when D
    rejects the fakes confidently (early in training), while d/dl -log sigmoid(l) =
    -(1 - D(G(z))) is then close to -1. Goodfellow et al. proposed -log D(G(z)) for
    that reason; it has the same fixed point."""
    if kind == "non-saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def logit_gradients(fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """d loss / d logit for each fake sample under each generator loss, by autograd
    (each sample's own term, not divided by the batch size)."""
    grads = {}
    for kind in GENERATOR_LOSSES:
        logits = fake_logits.detach().clone().requires_grad_()
        (generator_loss(logits, kind) * len(logits)).backward()
        grads[kind] = logits.grad.reshape(-1)
    return grads


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The (modes, 2) centres of the mixture, evenly spaced on a circle."""
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def ring_of_gaussians(
    n: int,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """n points of an equal mixture of isotropic Gaussians with centres on a circle.

    The modes are far apart compared with their width, so a generator that drops one
    leaves a hole anyone can see, and counting the modes it reaches is a measurement
    (`mode_coverage`), not a judgement of a picture."""
    which = torch.randint(0, modes, (n,), generator=generator)
    noise = torch.randn(n, 2, generator=generator) * std
    return ring_centres(modes, radius)[which] + noise


@torch.no_grad()
def mode_coverage(
    samples: torch.Tensor, centres: torch.Tensor, std: float, min_share: float = 0.02
) -> tuple[int, float]:
    """How many modes a generator reaches, and the share of its samples that are good.

    A sample is good ("high quality", as in Srivastava et al. 2017) when it lies within
    3 std of some centre; a mode is covered when at least `min_share` of all samples are
    good samples of it. 2% is a sixth of a mode's fair share of 1/8: a mode reached
    only by stray samples is not counted."""
    distances = torch.cdist(samples.float().cpu(), centres.float().cpu())
    nearest, which = distances.min(dim=1)
    good = nearest <= 3 * std
    counts = torch.bincount(which[good], minlength=len(centres))
    return int((counts >= min_share * len(samples)).sum()), float(good.float().mean())


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> float:
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel (Gretton et al.).

    It is 0 in expectation when x and y come from the same distribution and grows with
    any difference the kernel can see, so it compares samples with data without
    trusting a classifier. `bandwidth` defaults to the median distance between all the
    points (the usual heuristic)."""
    x, y = x.flatten(1).double(), y.flatten(1).double()
    squared = torch.cdist(torch.cat([x, y]), torch.cat([x, y])) ** 2
    if bandwidth is None:
        bandwidth = float(squared[squared > 0].median().sqrt())
    kernel = torch.exp(-squared / (2 * bandwidth**2))
    n, m = len(x), len(y)
    k_xx, k_yy, k_xy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(within_x + within_y - 2 * k_xy.mean())


def mlp_generator(
    latent: int = 8, out: int = 2, hidden: int = 64, sigmoid: bool = False
) -> nn.Sequential:
    """z -> G(z): two hidden ReLU layers; `sigmoid` keeps outputs in (0, 1) for pixels."""
    layers: list[nn.Module] = [
        nn.Linear(latent, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, out),
    ]  # fmt: skip
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def mlp_discriminator(inputs: int = 2, hidden: int = 64) -> nn.Sequential:
    """x -> logit of D(x): two hidden leaky-ReLU layers (Radford et al.'s slope 0.2, so
    that no unit goes silent and G always receives a gradient through D)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(inputs, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1),
    )  # fmt: skip


def latents(n: int, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n standard-normal latent codes z."""
    return torch.randn(n, size, generator=generator)


@torch.no_grad()
def generate(G: nn.Module, n: int, latent: int, seed: int = 0) -> torch.Tensor:
    """n samples G(z), on the CPU, from latent codes fixed by `seed`."""
    device = next(G.parameters()).device
    return G(latents(n, latent, runtime.generator(seed)).to(device)).cpu()


@dataclass
class GANHistory:
    """Both losses at every step, the wall time of the run, and (with `snapshot_every`)
    the generator's samples of one fixed batch of latents by step, on the CPU."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)


def _adam(module: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with beta1 = 0.5 (Radford et al.): the default 0.9 keeps momentum from a
    discriminator that has since changed, which makes the game oscillate. Fused: a
    small network's step is then one call instead of a dozen per tensor."""
    return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999), fused=True)


def _discriminator_step(
    D: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """One step of D on a real and a (detached) fake batch, scored in one forward pass."""
    logits = D(torch.cat([real, fake.detach()]))
    loss = discriminator_loss(logits[: len(real)], logits[len(real) :])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


def train_gan(
    G: nn.Module,
    D: nn.Module,
    data: torch.Tensor,
    steps: int,
    device: torch.device | str,
    latent: int = 8,
    kind: str = "non-saturating",
    lr_g: float = 2e-3,
    lr_d: float = 2e-3,
    batch_size: int = 128,
    seed: int = 0,
    snapshot_every: int | None = None,
) -> GANHistory:
    """Alternate one discriminator step and one generator step, `steps` times.

    The generator step scores the fakes of the discriminator step again, with the
    updated D, as PyTorch's DCGAN example does. `lr_g` and `lr_d` set how fast each
    player moves: a generator much faster than its discriminator chases whatever point
    D currently likes best, which is how mode collapse is provoked here. Real batches
    are drawn from `data` (one example per row) and latents from a generator seeded
    with `seed`, so a run repeats exactly on the CPU, where it uses one thread: networks
    this small run slower when split over two (`one_cpu_thread`)."""
    G.to(device), D.to(device)
    data = data.to(device)
    draws = runtime.generator(seed)
    opt_g, opt_d = _adam(G, lr_g), _adam(D, lr_d)
    d_losses, g_losses, start = [], [], time.perf_counter()
    # the same latents at every snapshot, drawn apart from the training draws
    fixed = latents(500, latent, runtime.generator(seed + 1)).to(device)
    snapshots = {}
    with one_cpu_thread() if torch.device(device).type == "cpu" else nullcontext():
        for step in range(steps + 1):
            if snapshot_every and (step % snapshot_every == 0 or step == steps):
                with torch.no_grad():
                    snapshots[step] = G(fixed).cpu()
            if step == steps:
                break
            real = data[torch.randint(0, len(data), (batch_size,), generator=draws).to(device)]
            fake = G(latents(batch_size, latent, draws).to(device))
            d_losses.append(_discriminator_step(D, opt_d, real, fake))
            g_loss = generator_loss(D(fake), kind)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            g_losses.append(g_loss.detach())
    return GANHistory(
        torch.stack(d_losses).tolist(),
        torch.stack(g_losses).tolist(),
        time.perf_counter() - start,
        snapshots,
    )


@dataclass
class StartGradients:
    """The generator's learning signal against a confident discriminator, per loss."""

    d_fake: float  # mean D(G(z)): how likely D finds the fakes real
    logit: dict[str, float]  # mean |d loss / d logit| of one sample
    generator: dict[str, float]  # norm of the gradient on G's parameters, batch mean loss


def start_gradients(
    G: nn.Module,
    D: nn.Module,
    data: torch.Tensor,
    d_steps: int,
    device: torch.device | str,
    latent: int = 8,
    lr_d: float = 2e-3,
    batch_size: int = 512,
    seed: int = 0,
) -> StartGradients:
    """Train D alone for `d_steps` against the untrained G, then measure what each
    generator loss would give G.

    This is the start of training that Goodfellow et al. describe: fakes are easy to
    reject, D(G(z)) is near 0, and log(1 - D(G(z))) is flat there. G and D are modified
    (D is trained; G only receives gradients)."""
    G.to(device), D.to(device)
    data = data.to(device)
    draws = runtime.generator(seed)
    opt_d = _adam(D, lr_d)
    with one_cpu_thread() if torch.device(device).type == "cpu" else nullcontext():
        for _ in range(d_steps):
            real = data[torch.randint(0, len(data), (batch_size,), generator=draws).to(device)]
            with torch.no_grad():
                fake = G(latents(batch_size, latent, draws).to(device))
            _discriminator_step(D, opt_d, real, fake)
        z = latents(batch_size, latent, draws).to(device)
        logits = D(G(z)).detach()
        per_sample = logit_gradients(logits)
        norms = {}
        for kind in GENERATOR_LOSSES:
            G.zero_grad()
            generator_loss(D(G(z)), kind).backward()
            norms[kind] = float(torch.cat([p.grad.flatten() for p in G.parameters()]).norm())
    return StartGradients(
        float(torch.sigmoid(logits).mean()),
        {kind: float(g.abs().mean()) for kind, g in per_sample.items()},
        norms,
    )


@torch.no_grad()
def class_shares(classifier: nn.Module, images: torch.Tensor) -> tuple[float, torch.Tensor]:
    """How sure `classifier` is of `images` (its mean top probability) and the share of
    the images it puts in each class.

    A classifier trained on real digits is a judge that knows nothing of the GAN: its
    confidence says whether samples look like some digit, its class shares whether they
    cover all ten or collapse onto a few. Compare both with real test digits, since the
    judge is never fully sure of those either."""
    device = next(classifier.parameters()).device
    probabilities = classifier(images.to(device)).softmax(dim=1).cpu()
    counts = torch.bincount(probabilities.argmax(dim=1), minlength=probabilities.shape[1])
    return float(probabilities.max(dim=1).values.mean()), counts / len(images)


def nearest_distance(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean Euclidean distance from each sample to its nearest reference example.

    With the training set as reference, this tells generating from copying: a
    generator that memorised its data would sit far closer to it than held-out real
    examples do."""
    return float(torch.cdist(samples.flatten(1).float(), reference.flatten(1).float())
                 .min(dim=1).values.mean())  # fmt: skip
