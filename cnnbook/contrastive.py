"""SimCLR (Chen et al., 2020) on the 8x8 digits: features learned without labels, judged
by a linear probe.

An encoder is trained to map two random augmentations of the same image close together
and away from the other images of the batch (the NT-Xent loss). No label is used; the
labels come back only at the end, when a logistic regression on the frozen features
(the linear probe) measures how much of the class information the features hold.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import runtime
from cnnbook.activation_race import one_cpu_thread


def augment(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    max_shift: float = 1.0,
    max_degrees: float = 12.0,
    noise: float = 0.1,
    erase: float = 0.5,
) -> torch.Tensor:
    """A random variant of each (N, 1, 8, 8) image: rotated by up to `max_degrees`,
    shifted by up to `max_shift` pixels, with Gaussian noise of std `noise`, and with
    probability `erase` a random 3x3 patch set to 0.

    On 8x8 images every change is large (one pixel is an eighth of the width), so the
    ranges stay small: SimCLR's crops and colour jitter of ImageNet would leave nothing
    to recognise. The rotation and shift are one affine resampling (bilinear, zeros
    outside), drawn for the whole batch at once."""
    n, _, h, w = images.shape
    draw = torch.rand(n, 5, generator=generator).to(images.device)
    angle = (2 * draw[:, 0] - 1) * math.radians(max_degrees)
    shift = (2 * draw[:, 1:3] - 1) * max_shift * 2 / torch.tensor([w, h], device=images.device)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)  # fmt: skip
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, align_corners=False)
    out = out + noise * torch.randn(out.shape, generator=generator).to(images.device)
    rows = torch.arange(h, device=images.device)[:, None]
    cols = torch.arange(w, device=images.device)[None, :]
    top = (draw[:, 3] * (h - 2)).long()[:, None, None]  # corner of the patch
    left = (draw[:, 4] * (w - 2)).long()[:, None, None]
    patch = (rows >= top) & (rows < top + 3) & (cols >= left) & (cols < left + 3)
    erased = torch.rand(n, generator=generator).to(images.device) < erase
    return out.masked_fill((patch & erased[:, None, None])[:, None], 0.0)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """The normalized-temperature cross-entropy of SimCLR for N pairs of projections.

    All 2N projections are L2-normalised and compared by cosine similarity / tau in
    one 2N x 2N matrix. Row i is a (2N - 1)-way classification: which of the others is
    the other view of the same image? Its own similarity (always 1) is excluded; the
    loss is the cross-entropy averaged over all 2N rows, so both views act as anchors."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.T / temperature
    similarity = similarity.masked_fill(
        torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf")
    )
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


def conv_encoder(features: int = 32, width: int = 16) -> nn.Sequential:
    """(N, 1, 8, 8) -> (N, features): two 3x3 convolutions of `width` and 2 * `width`
    channels (the second with stride 2) and a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(2 * width * 4 * 4, features),
    )  # fmt: skip


def projection_head(features: int = 32, out: int = 32) -> nn.Sequential:
    """The small MLP between the features and the loss. Chen et al. found the features
    before it better than after it for the probe: the loss makes the projection
    invariant to the augmentations, and the head absorbs that loss of information."""
    return nn.Sequential(nn.ReLU(), nn.Linear(features, features), nn.ReLU(),
                         nn.Linear(features, out))  # fmt: skip


def train_simclr(
    encoder: nn.Module,
    head: nn.Module,
    images: torch.Tensor,
    steps: int,
    device: torch.device | str,
    batch_size: int = 256,
    temperature: float = 0.2,
    lr: float = 2e-3,
    seed: int = 0,
) -> list[float]:
    """Train encoder and head with NT-Xent on two augmented views of random batches of
    `images` (labels are never seen); the loss at every step.

    On the CPU it runs on one thread: convolutions of 8x8 images are too small to share
    (on the course's busy 2-core machine, two threads took 4 to 9 times longer)."""
    encoder.to(device), head.to(device)
    images = images.to(device)
    draws = runtime.generator(seed)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr, fused=True)
    losses = []
    with one_cpu_thread() if torch.device(device).type == "cpu" else nullcontext():
        for _ in range(steps):
            index = torch.randint(0, len(images), (batch_size,), generator=draws).to(device)
            views = torch.cat([augment(images[index], draws), augment(images[index], draws)])
            z1, z2 = head(encoder(views)).chunk(2)
            loss = nt_xent(z1, z2, temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
    return torch.stack(losses).tolist()


def train_supervised(
    encoder: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    steps: int,
    device: torch.device | str,
    batch_size: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
) -> list[float]:
    """The comparison SimCLR is held to: the same encoder, the same augmentations and
    steps, trained with the labels through a linear classifier; the loss at every step."""
    encoder.to(device)
    images, labels = images.to(device), labels.to(device)
    with torch.no_grad():
        features = encoder(images[:1]).shape[1]
    classifier = nn.Linear(features, int(labels.max()) + 1).to(device)
    draws = runtime.generator(seed)
    params = [*encoder.parameters(), *classifier.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr, fused=True)
    losses = []
    with one_cpu_thread() if torch.device(device).type == "cpu" else nullcontext():
        for _ in range(steps):
            index = torch.randint(0, len(images), (batch_size,), generator=draws).to(device)
            logits = classifier(encoder(augment(images[index], draws)))
            loss = F.cross_entropy(logits, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
    return torch.stack(losses).tolist()


def logistic_regression(
    x: torch.Tensor, y: torch.Tensor, weight_decay: float = 1e-3, iterations: int = 200
) -> nn.Linear:
    """A linear classifier of the rows of x, fitted to the labels y by L-BFGS.

    The problem is convex (cross-entropy plus an L2 penalty on the weights), so the
    result does not depend on a learning rate or a random start: the weights start at
    zero and the solver runs to its optimum, which makes it a fair judge of features.
    On the CPU it runs on one thread, faster for a problem this small."""
    model = nn.Linear(x.shape[1], int(y.max()) + 1).to(x.device)
    nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=iterations,
                                  tolerance_grad=1e-6, line_search_fn="strong_wolfe")  # fmt: skip

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y) + weight_decay * model.weight.square().sum() / 2
        loss.backward()
        return loss

    with one_cpu_thread() if x.device.type == "cpu" else nullcontext():
        optimizer.step(closure)
    return model


def linear_probe(
    encoder: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    weight_decay: float = 1e-3,
) -> float:
    """Test accuracy of a logistic regression on the frozen encoder's features.

    Only a linear map is trained, so the accuracy measures what the features already
    make linearly separable, not what a deeper classifier could still learn. Features
    are standardised with the training set's statistics. `nn.Flatten()` as the encoder
    probes the pixels themselves."""
    device = next(encoder.parameters(), train[0]).device
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        x_train, x_test = (encoder(x.to(device)) for x in (train[0], test[0]))
    encoder.train(was_training)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    probe = logistic_regression((x_train - mean) / std, train[1].to(device), weight_decay)
    with torch.no_grad():
        predictions = probe((x_test - mean) / std).argmax(dim=1)
    return float((predictions == test[1].to(device)).float().mean())
