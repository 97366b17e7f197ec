"""Chapter 10's attention against PyTorch's: scaled dot product, multi-head, the causal
mask and the sinusoidal positions."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.attention import (
    AdditiveAttention,
    MultiHeadAttention,
    causal_mask,
    load_from_torch,
    scaled_dot_product_attention,
    sinusoidal_positions,
)

SHAPES = [((1,), 1, 1, 1, 1), ((2,), 3, 5, 4, 6), ((2, 3), 4, 4, 8, 8), ((3,), 7, 2, 5, 3)]
# (batch axes, L, S, E, Ev)


def _qkv(batch, L, S, E, Ev, gen):
    def draw(*shape):
        return torch.randn(*batch, *shape, generator=gen, dtype=torch.float64)

    return draw(L, E), draw(S, E), draw(S, Ev)


@pytest.mark.parametrize(("batch", "L", "S", "E", "Ev"), SHAPES)
def test_sdpa_equals_pytorch_without_mask(batch, L, S, E, Ev):
    q, k, v = _qkv(batch, L, S, E, Ev, torch.Generator().manual_seed(L * 10 + S))
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(weights.sum(-1), torch.ones(*batch, L, dtype=torch.float64))
    torch.testing.assert_close(weights @ v, out)


@pytest.mark.parametrize(("batch", "L", "S", "E", "Ev"), SHAPES)
def test_sdpa_equals_pytorch_with_masks(batch, L, S, E, Ev):
    gen = torch.Generator().manual_seed(L * 10 + S + 1)
    q, k, v = _qkv(batch, L, S, E, Ev, gen)
    allowed = torch.rand(*batch, L, S, generator=gen) < 0.6
    allowed[..., 0] = True  # every query sees at least one key
    additive = torch.randn(L, S, generator=gen, dtype=torch.float64)  # broadcast over batch
    for mask in (allowed, allowed[0], additive):
        ours, weights = scaled_dot_product_attention(q, k, v, mask)
        torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    ours, weights = scaled_dot_product_attention(q, k, v, allowed)
    assert (weights[~allowed] == 0).all()


@pytest.mark.parametrize(("batch", "L", "S", "E", "Ev"), SHAPES)
def test_sdpa_is_causal_equals_pytorch(batch, L, S, E, Ev):
    q, k, v = _qkv(batch, L, S, E, Ev, torch.Generator().manual_seed(L * 10 + S + 2))
    ours, weights = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert (weights.triu(1) == 0).all()


def test_sdpa_gives_zeros_where_a_query_sees_no_key():
    q, k, v = _qkv((2,), 3, 4, 5, 5, torch.Generator().manual_seed(3))
    allowed = torch.ones(3, 4, dtype=torch.bool)
    allowed[1] = False
    ours, weights = scaled_dot_product_attention(q, k, v, allowed)
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))
    assert not ours.isnan().any() and (ours[:, 1] == 0).all() and (weights[:, 1] == 0).all()


def test_sdpa_rejects_mask_with_is_causal():
    q = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="either"):
        scaled_dot_product_attention(q, q, q, causal_mask(2), is_causal=True)


def test_sdpa_scale_is_what_pytorch_uses():
    """Without the 1/sqrt(d) the result differs: the test above can tell."""
    q, k, v = _qkv((2,), 4, 4, 16, 16, torch.Generator().manual_seed(4))
    unscaled = (q @ k.transpose(-2, -1)).softmax(-1) @ v
    assert not torch.allclose(unscaled, F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_causal_mask_equals_pytorch(n):
    torch.testing.assert_close(
        causal_mask(n, additive=True), nn.Transformer.generate_square_subsequent_mask(n)
    )
    boolean = causal_mask(n)
    assert boolean.dtype == torch.bool
    assert torch.equal(boolean, causal_mask(n, additive=True) == 0)
    q, k, v = _qkv((2,), n, n, 3, 3, torch.Generator().manual_seed(n))
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, boolean)[0],
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
    )


@pytest.mark.parametrize(
    ("dim", "heads", "L", "S", "bias"),
    [(4, 1, 3, 3, True), (8, 2, 5, 3, True), (12, 4, 6, 6, False), (16, 8, 1, 7, True)],
)
def test_multi_head_attention_equals_pytorch(dim, heads, L, S, bias):
    gen = torch.Generator().manual_seed(dim + heads)
    torch.manual_seed(dim * heads)
    theirs = nn.MultiheadAttention(dim, heads, bias=bias, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # PyTorch starts the biases at 0, which would hide a misplaced one
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
    ours = load_from_torch(MultiHeadAttention(dim, heads, bias=bias).double(), theirs)
    query = torch.randn(3, L, dim, generator=gen, dtype=torch.float64)
    key = torch.randn(3, S, dim, generator=gen, dtype=torch.float64)
    value = torch.randn(3, S, dim, generator=gen, dtype=torch.float64)
    out, weights = ours(query, key, value)
    expected, expected_weights = theirs(query, key, value)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights.mean(1), expected_weights)
    assert weights.shape == (3, heads, L, S)

    allowed = torch.rand(L, S, generator=gen) < 0.5
    allowed[:, 0] = True
    out, _ = ours(query, key, value, mask=allowed)
    torch.testing.assert_close(
        out, theirs(query, key, value, attn_mask=~allowed)[0]
    )  # True forbids there
    if L == S:
        out, _ = ours(query, key, value, is_causal=True)
        expected, _ = theirs(query, key, value, attn_mask=causal_mask(L, additive=True).double())
        torch.testing.assert_close(out, expected)


def test_multi_head_attention_has_pytorchs_parameter_count():
    ours, theirs = MultiHeadAttention(16, 4), nn.MultiheadAttention(16, 4)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_multi_head_attention_checks_its_arguments():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="head counts"):
        load_from_torch(MultiHeadAttention(8, 2), nn.MultiheadAttention(8, 4))
    with pytest.raises(ValueError, match="kdim"):
        load_from_torch(MultiHeadAttention(8, 2), nn.MultiheadAttention(8, 2, kdim=4, vdim=4))


def test_additive_attention_weights_and_context():
    gen = torch.Generator().manual_seed(5)
    attention = AdditiveAttention(query_dim=3, key_dim=4, hidden=6).double()
    query = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    keys = torch.randn(2, 5, 4, generator=gen, dtype=torch.float64)
    values = torch.randn(2, 5, 7, generator=gen, dtype=torch.float64)
    context, weights = attention(query, keys, values)
    # the scores by the formula, v^T tanh(W_q q + W_k k_j), one pair at a time
    for n in range(2):
        scores = torch.stack(
            [
                attention.score.weight[0]
                @ torch.tanh(attention.query.weight @ query[n] + attention.key(keys[n, j]))
                for j in range(5)
            ]
        )
        torch.testing.assert_close(weights[n], scores.softmax(0))
        torch.testing.assert_close(context[n], scores.softmax(0) @ values[n])
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    context, weights = attention(query, keys, values, mask)
    assert (weights[1, 2:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, dtype=torch.float64))
    # several queries at once score like one at a time
    queries = torch.randn(2, 4, 3, generator=gen, dtype=torch.float64)
    many, many_weights = attention(queries, keys, values, mask)
    for i in range(4):
        one, one_weights = attention(queries[:, i], keys, values, mask)
        torch.testing.assert_close(many[:, i], one)
        torch.testing.assert_close(many_weights[:, i], one_weights)


def test_sinusoidal_positions_closed_form():
    pe = sinusoidal_positions(50, 16)
    assert pe.shape == (50, 16) and pe.dtype == torch.get_default_dtype()
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 8))
    # the first pair turns one radian per position; the i-th pair at 10000^(-2i/dim)
    torch.testing.assert_close(pe[1, :2], torch.tensor([math.sin(1.0), math.cos(1.0)]))
    w3 = 10000 ** (-6 / 16)
    torch.testing.assert_close(pe[7, 6:8], torch.tensor([math.sin(7 * w3), math.cos(7 * w3)]))
    odd = sinusoidal_positions(5, 7)  # an odd size ends on a sine
    assert odd.shape == (5, 7)
    torch.testing.assert_close(odd[:, 6], torch.sin(torch.arange(5.0) * 10000 ** (-6 / 7)))


def test_sinusoidal_dot_product_depends_only_on_the_offset():
    pe = sinusoidal_positions(64, 32)
    gram = pe @ pe.T
    for offset in (0, 1, 5, 20):
        diagonal = gram.diagonal(offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), atol=1e-5, rtol=0)
    torch.testing.assert_close(gram[0, 0], torch.tensor(16.0))  # dim / 2
    assert gram[0, 1] > gram[0, 10]  # nearer positions are more alike
