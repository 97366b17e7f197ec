"""Chapter 10's grading spec: its references against independent formulas, and the
plausible wrong answers and the forbidden shortcuts each scored below full marks.

`test_grading_chapters.py` already checks that the solutions get 8 points and the blank
exercises zero.
"""

import math

import nbformat
import torch
import torch.nn.functional as F

from cnnbook.grading.chapters import ch10
from cnnbook.grading.checks import PUBLIC_SEED
from cnnbook.grading.engine.grader import grade_folder
from conftest import ROOT, solution_with

EXERCISES = {ex.name: ex for ex in ch10.EXERCISES}
SOLUTIONS = ROOT / "solutions" / "10-after-alexnet.ipynb"
FULL = 8


def test_points_per_exercise():
    assert {name: ex.points for name, ex in EXERCISES.items()} == {
        "scaled_dot_product_attention": 2, "causal_mask": 1, "nt_xent": 2, "dqn_target": 1,
        "gan_losses": 2,
    }  # fmt: skip
    assert sum(ex.points for ex in ch10.EXERCISES) == FULL


def test_the_nt_xent_reference_is_the_cross_entropy_over_the_other_embeddings():
    """The loop of the reference against the vectorised form: cross-entropy of each row of
    the similarity matrix, the anchor itself left out, the partner as the target."""
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    u = F.normalize(torch.cat([z1, z2]).double(), dim=1)
    logits = (u @ u.T / 0.3).fill_diagonal_(-math.inf)
    partners = torch.cat([torch.arange(6, 12), torch.arange(6)])
    assert math.isclose(ch10._nt_xent_reference(z1, z2, 0.3),
                        float(F.cross_entropy(logits, partners)), rel_tol=1e-12)  # fmt: skip
    assert abs(ch10._nt_xent_reference(z1[:1], z2[:1], 0.5)) < 1e-12  # no negatives


def test_the_dqn_reference_stops_at_the_end_of_an_episode():
    rewards, next_q = torch.tensor([1.0, 2.0]), torch.tensor([[0.0, 3.0], [5.0, -1.0]])
    got = ch10._dqn_target_reference(rewards, next_q, torch.tensor([False, True]), 0.5)
    assert got.tolist() == [2.5, 2.0]


def test_every_case_set_is_reproducible_and_nontrivial():
    for exercise in ch10.EXERCISES:
        first, again = exercise.cases(PUBLIC_SEED), exercise.cases(PUBLIC_SEED)
        assert [c.description for c in first] == [c.description for c in again]
        assert len(first) >= 5, exercise.name
    gan = {c.description: c for c in EXERCISES["gan_losses"].cases(PUBLIC_SEED)}
    extreme = next(c for text, c in gan.items() if "±120" in text)
    _, fake = extreme.args
    assert torch.isinf(torch.log(torch.sigmoid(fake))).any()  # the naive form breaks here


WRONG = {
    "scaled_by_d": ("scaled_dot_product_attention", (
        "def scaled_dot_product_attention(q, k, v, mask=None):\n"
        "    scores = q @ k.transpose(-2, -1) / q.shape[-1]\n"
        "    if mask is not None:\n"
        "        scores = scores.masked_fill(~mask, float('-inf'))\n"
        "    return torch.softmax(scores, dim=-1) @ v")),
    "mask_inverted": ("scaled_dot_product_attention", (
        "def scaled_dot_product_attention(q, k, v, mask=None):\n"
        "    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])\n"
        "    if mask is not None:\n"
        "        scores = scores.masked_fill(mask & ~mask.all(1, keepdim=True), -1e9)\n"
        "    return torch.softmax(scores, dim=-1) @ v")),
    "fused_attention": ("scaled_dot_product_attention", (
        "def scaled_dot_product_attention(q, k, v, mask=None):\n"
        "    fused = getattr(F, 'scaled_dot_' + 'product_attention')\n"
        "    return fused(q, k, v, attn_mask=mask)")),
    "diagonal_masked": ("causal_mask", (
        "def causal_mask(n):\n"
        "    upper = torch.ones(n, n, dtype=torch.bool).triu()\n"
        "    return torch.zeros(n, n).masked_fill(upper, float('-inf'))")),
    "library_mask": ("causal_mask", (
        "def causal_mask(n):\n"
        "    return torch.nn.Transformer.generate_square_subsequent_mask(n)")),
    "self_in_denominator": ("nt_xent", (
        "def nt_xent(z1, z2, temperature):\n"
        "    u = F.normalize(torch.cat([z1, z2]), dim=1)\n"
        "    n = len(z1)\n"
        "    logits = u @ u.T / temperature\n"
        "    partners = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])\n"
        "    return F.cross_entropy(logits, partners)")),
    "not_normalised": ("nt_xent", (
        "def nt_xent(z1, z2, temperature):\n"
        "    u = torch.cat([z1, z2])\n"
        "    n = len(z1)\n"
        "    logits = (u @ u.T / temperature).fill_diagonal_(float('-inf'))\n"
        "    partners = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])\n"
        "    return F.cross_entropy(logits, partners)")),
    "bootstraps_past_the_end": ("dqn_target", (
        "def dqn_target(rewards, next_q, dones, gamma):\n"
        "    return rewards + gamma * next_q.max(dim=1).values")),
    "naive_log_sigmoid": ("gan_losses", (
        "def gan_losses(real_logits, fake_logits):\n"
        "    d = -(torch.log(torch.sigmoid(real_logits)).mean()\n"
        "          + torch.log(1 - torch.sigmoid(fake_logits)).mean())\n"
        "    return d, -torch.log(torch.sigmoid(fake_logits)).mean()")),
    "saturating_generator": ("gan_losses", (
        "def gan_losses(real_logits, fake_logits):\n"
        "    d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()\n"
        "    return d, -F.softplus(fake_logits).mean()")),
    "library_bce": ("gan_losses", (
        "def gan_losses(real_logits, fake_logits):\n"
        "    bce = getattr(F, 'binary_cross_' + 'entropy_with_logits')\n"
        "    ones, zeros = torch.ones_like(real_logits), torch.zeros_like(fake_logits)\n"
        "    d = bce(real_logits, ones) + bce(fake_logits, zeros)\n"
        "    return d, bce(fake_logits, torch.ones_like(fake_logits))")),
}  # fmt: skip


def test_each_wrong_answer_or_shortcut_loses_its_exercise(tmp_path):
    """Each submission is the solutions with one function replaced: a plausible mistake
    (which fails some hidden cases) or a forbidden shortcut reached by a name built at
    run time (which the child's watch on the fused operators scores zero)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for student, (name, source) in WRONG.items():
        nbformat.write(solution_with(SOLUTIONS, {name: source}),
                       folder / f"{student}_10-after-alexnet.ipynb")  # fmt: skip
    rows = {r["student"]: r for r in grade_folder(folder, "10", tmp_path / "out", jobs=2,
                                                  log=lambda _: None)}  # fmt: skip
    for student, (name, _) in WRONG.items():
        assert rows[student]["status"] == "graded", student
        assert rows[student][name] < EXERCISES[name].points, (student, rows[student])
        others = FULL - EXERCISES[name].points
        assert rows[student]["total"] - rows[student][name] == others, student
    for shortcut in ("fused_attention", "library_bce"):
        feedback = (tmp_path / "out" / "feedback" / f"{shortcut}.md").read_text()
        assert "asks you to implement yourself" in feedback, shortcut
    assert rows["library_mask"]["causal_mask"] == 0
