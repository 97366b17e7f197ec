"""Chapter 10 (After AlexNet): the exercises, their cases and their points.

Every reference is computed here, independently of the solutions and of the package's
`cnnbook.attention`, `cnnbook.contrastive`, `cnnbook.rl` and `cnnbook.gan`: attention and
the causal mask from PyTorch (`F.scaled_dot_product_attention`,
`nn.Transformer.generate_square_subsequent_mask`), the GAN losses from
`F.binary_cross_entropy_with_logits` in double precision, and NT-Xent and the DQN target
from plain loops over Python numbers, the formulas as the papers write them.

The cases are chosen to catch the plausible wrong answers: attention scaled by d instead
of its square root, or by the values' width; a mask read the wrong way round; NT-Xent
that keeps each view's similarity with itself in the denominator, or forgets to normalise
the embeddings; a DQN target that bootstraps past the end of an episode; GAN losses that
take log(sigmoid) directly, which overflows at the logits a confident discriminator gives.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.grading.checks import Case, Exercise, close_tensor, close_tensors
from cnnbook.grading.operators import ATTENTION, BINARY_CROSS_ENTROPY

NOTEBOOK = "10-after-alexnet"


# Exercise 1: scaled dot-product attention


def _attention_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    f32, f64 = torch.float32, torch.float64
    # (description, batch shape, queries L, keys S, width D, value width Dv, dtype, mask)
    settings = [
        ("one query, one key", (1,), 1, 1, 4, 4, f32, None),
        ("a batch of 3, L = S = 5", (3,), 5, 5, 8, 8, f32, None),
        ("more keys than queries, values wider than keys", (2,), 3, 7, 4, 6, f64, None),
        ("heads as a second batch dimension (2, 4)", (2, 4), 6, 6, 16, 16, f32, None),
        ("width 64: the scale is 1/8, not 1/64", (2,), 4, 4, 64, 64, f64, None),
        ("a causal mask (True: may attend)", (2,), 6, 6, 8, 8, f64, "causal"),
        ("a random mask, each query keeping at least one key", (3,), 5, 7, 4, 3, f64, "random"),
    ]
    for _ in range(2):
        length = rng.randint(2, 9)
        settings.append(("random sizes", (rng.randint(1, 3),), length, rng.randint(2, 9),
                         rng.choice([2, 8, 32]), rng.choice([3, 8]), f64, "random"))  # fmt: skip
    cases = []
    for text, batch, n_q, n_k, width, value_width, dtype, kind in settings:
        q = torch.randn(*batch, n_q, width, generator=gen, dtype=dtype)
        k = torch.randn(*batch, n_k, width, generator=gen, dtype=dtype)
        v = torch.randn(*batch, n_k, value_width, generator=gen, dtype=dtype)
        if kind == "causal":
            mask = torch.ones(n_q, n_k, dtype=torch.bool).tril()
        elif kind == "random":
            mask = torch.rand(n_q, n_k, generator=gen) < 0.6
            mask[torch.arange(n_q), torch.randint(0, n_k, (n_q,), generator=gen)] = True
        else:
            mask = None
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        cases.append(Case(f"{text}: {shapes}", (q, k, v), {"mask": mask}, expected))
    return cases


# Exercise 2: the causal mask


def _causal_mask_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    sizes = [1, 2, 5, 16, rng.randint(3, 40)]
    return [
        Case(f"n = {n}", (n,), {}, nn.Transformer.generate_square_subsequent_mask(n))
        for n in sizes
    ]


def _same_mask(got, case: Case) -> str | None:
    """Exact equality, -inf included (a tolerance compares differences, and -inf - -inf
    is nan)."""
    expected = case.expected
    if not isinstance(got, torch.Tensor):
        return f"expected a torch.Tensor, got {type(got).__name__}"
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return f"{got.dtype} of shape {tuple(got.shape)}, expected {expected.dtype} of shape " \
            f"{tuple(expected.shape)}"
    if torch.equal(got.detach().cpu(), expected):
        return None
    i, j = (int(x) for x in (got.detach().cpu() != expected).nonzero()[0])
    return f"at row {i}, column {j}: got {float(got[i, j])}, expected {float(expected[i, j])}"


# Exercise 3: NT-Xent


def _nt_xent_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> float:
    """Chen et al. (2020), eq. 1, averaged over all 2N anchors, one pair at a time."""
    views = [F.normalize(z, dim=1) for z in (z1.double(), z2.double())]
    rows = [views[0][i] for i in range(len(z1))] + [views[1][i] for i in range(len(z2))]
    n = len(z1)
    total = 0.0
    for i, anchor in enumerate(rows):
        partner = (i + n) % (2 * n)
        similarity = [float(anchor @ other) / temperature for other in rows]
        others = [math.exp(s) for j, s in enumerate(similarity) if j != i]
        total += -similarity[partner] + math.log(sum(others))
    return total / (2 * n)


def _nt_xent_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [
        ("one pair: no negatives, loss 0", 1, 4, 0.5, 1.0),
        ("two pairs", 2, 3, 0.5, 1.0),
        ("8 pairs, temperature 0.1", 8, 16, 0.1, 1.0),
        ("embeddings of very different lengths (the loss normalises them)", 5, 8, 0.5, 30.0),
        ("temperature 1", 6, 4, 1.0, 1.0),
    ]
    for _ in range(2):
        settings.append(("random sizes", rng.randint(2, 12), rng.choice([2, 8, 32]),
                         rng.choice([0.07, 0.2, 0.5]), 1.0))  # fmt: skip
    cases = []
    for text, n, width, temperature, spread in settings:
        z1 = torch.randn(n, width, generator=gen) * spread ** torch.rand(n, 1, generator=gen)
        z2 = z1 + 0.5 * torch.randn(n, width, generator=gen)
        expected = torch.tensor(_nt_xent_reference(z1, z2, temperature), dtype=torch.float32)
        cases.append(Case(f"{text}: z1, z2 {tuple(z1.shape)}, τ = {temperature}",
                          (z1, z2, temperature), {}, expected))  # fmt: skip
    return cases


# Exercise 4: the DQN target


def _dqn_target_reference(rewards, next_q, dones, gamma) -> torch.Tensor:
    values = [
        r + (0.0 if done else gamma * max(row))
        for r, row, done in zip(rewards.tolist(), next_q.tolist(), dones.tolist(), strict=True)
    ]
    return torch.tensor(values, dtype=rewards.dtype)


def _dqn_target_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [
        ("one transition, not terminal", 1, 2, 0.99, [False]),
        ("one transition that ends the episode (no bootstrap)", 1, 2, 0.99, [True]),
        ("a batch of 6, some terminal, negative Q-values", 6, 3, 0.9, None),
        ("γ = 0: the target is the reward", 4, 2, 0.0, None),
        ("γ = 1", 5, 4, 1.0, None),
    ]
    for _ in range(2):
        settings.append(("random sizes", rng.randint(2, 32), rng.randint(2, 6),
                         rng.choice([0.9, 0.95, 0.99]), None))  # fmt: skip
    cases = []
    for text, batch, actions, gamma, done_list in settings:
        rewards = torch.randn(batch, generator=gen)
        next_q = torch.randn(batch, actions, generator=gen) * 3 - 1
        dones = (torch.tensor(done_list) if done_list is not None
                 else torch.rand(batch, generator=gen) < 0.4)  # fmt: skip
        expected = _dqn_target_reference(rewards, next_q, dones, gamma)
        cases.append(Case(f"{text}: {batch} transitions, {actions} actions, γ = {gamma}",
                          (rewards, next_q, dones, gamma), {}, expected))  # fmt: skip
    return cases


# Exercise 5: the GAN losses


def _gan_reference(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Goodfellow et al. (2014): the discriminator's cross-entropy on real (label 1) and
    generated (label 0) samples, and the generator's non-saturating loss, -log D(G(z))."""
    bce = F.binary_cross_entropy_with_logits
    real64, fake64 = real.double(), fake.double()
    d_loss = bce(real64, torch.ones_like(real64)) + bce(fake64, torch.zeros_like(fake64))
    g_loss = bce(fake64, torch.ones_like(fake64))
    return d_loss.to(real.dtype), g_loss.to(real.dtype)


def _gan_cases(seed: int) -> list[Case]:
    gen = torch.Generator().manual_seed(seed)
    settings = [
        ("a batch of one, both logits 0 (D undecided: log 4 and log 2)", 1, 0.0, 0.0, 0.0),
        ("a batch of 8, logits around 0", 8, 0.0, 0.0, 1.0),
        ("a confident discriminator (real ≈ +8, fake ≈ −8)", 16, 8.0, -8.0, 1.0),
        ("logits of ±120: log(sigmoid) in float32 gives −inf", 4, 120.0, -120.0, 0.5),
        ("a fooled discriminator (real ≈ −5, fake ≈ +5)", 10, -5.0, 5.0, 2.0),
        ("different batch sizes for real and fake", 7, 1.0, -1.0, 3.0),
    ]
    cases = []
    for text, batch, real_centre, fake_centre, spread in settings:
        real = real_centre + spread * torch.randn(batch, generator=gen)
        fake_batch = batch + 3 if "different" in text else batch
        fake = fake_centre + spread * torch.randn(fake_batch, generator=gen)
        cases.append(Case(f"{text}: real {tuple(real.shape)}, fake {tuple(fake.shape)}",
                          (real, fake), {}, _gan_reference(real, fake)))  # fmt: skip
    return cases


# Points per exercise, next to the cases that earn them; the chapter is worth 8.
EXERCISES = (
    Exercise("scaled_dot_product_attention", 2, _attention_cases,
             close_tensor(atol=1e-5, rtol=1e-4),
             frozenset({"scaled_dot_product_attention", "MultiheadAttention",
                        "multi_head_attention_forward", "cnnbook"}), ATTENTION),
    Exercise("causal_mask", 1, _causal_mask_cases, _same_mask,
             frozenset({"generate_square_subsequent_mask", "Transformer", "cnnbook"})),
    Exercise("nt_xent", 2, _nt_xent_cases, close_tensor(atol=1e-5, rtol=1e-4),
             frozenset({"cnnbook"})),
    Exercise("dqn_target", 1, _dqn_target_cases, close_tensor(atol=1e-6, rtol=1e-5),
             frozenset({"cnnbook"})),
    Exercise("gan_losses", 2, _gan_cases, close_tensors(("d_loss", "g_loss"), atol=1e-5,
                                                        rtol=1e-5),
             frozenset({"binary_cross_entropy_with_logits", "binary_cross_entropy",
                        "BCEWithLogitsLoss", "BCELoss", "cnnbook"}), BINARY_CROSS_ENTROPY),
)  # fmt: skip
