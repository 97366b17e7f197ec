"""Attention written from its equations (Chapter 10): Bahdanau's additive scores, the
Transformer's scaled dot product, its multi-head form, the causal mask and the sinusoidal
positions.

Attention lets every output read any input in one step, with weights it computes from
the data instead of a fixed path through a recurrence. Each function here is checked
against PyTorch's own (`F.scaled_dot_product_attention`, `nn.MultiheadAttention`,
`nn.Transformer.generate_square_subsequent_mask`), so the chapter can use the short
version with confidence that it is the real mechanism.

Masks follow `F.scaled_dot_product_attention`: a boolean mask is True where a query may
look at a key, a float mask is added to the scores (0 to allow, -inf to forbid).
`nn.MultiheadAttention` reads boolean masks the other way round (True forbids).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class AdditiveAttention(nn.Module):
    """Bahdanau et al.'s (2015) attention: score(q, k_j) = v^T tanh(W_q q + W_k k_j).

    A small one-hidden-layer network judges how well each key fits the query, so query
    and keys may have different sizes; the weights are the softmax of the scores over
    the keys, and the context is the weighted mean of the values. It is how a decoder
    reads all of an encoder's states instead of only its last one.

    `forward(query (N, Dq), keys (N, S, Dk), values (N, S, Dv), mask (N, S) or None)`
    returns the context (N, Dv) and the weights (N, S). The query may also carry extra
    leading axes, (N, L, Dq), to score L queries at once (then (N, L, Dv), (N, L, S));
    `mask` is True at the keys that may be read (False at padding)."""

    def __init__(self, query_dim: int, key_dim: int, hidden: int):
        super().__init__()
        self.query = nn.Linear(query_dim, hidden, bias=False)
        self.key = nn.Linear(key_dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        single = query.dim() == 2
        q = self.query(query.unsqueeze(1) if single else query)  # (N, L, A)
        k = self.key(keys)  # (N, S, A)
        scores = self.score(torch.tanh(q.unsqueeze(2) + k.unsqueeze(1))).squeeze(-1)  # (N, L, S)
        if mask is not None:
            scores = scores.masked_fill(~mask.unsqueeze(1), -math.inf)
        weights = scores.softmax(dim=-1)
        context = weights @ values
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


def causal_mask(
    n: int, additive: bool = False, device: torch.device | str | None = None
) -> torch.Tensor:
    """The (n, n) mask that lets position i attend to positions 0..i and no later one.

    It is what makes a Transformer a language model: a prediction for the next token can
    only use the tokens before it. Boolean (True on and below the diagonal) by default;
    `additive=True` gives 0 and -inf, equal to `nn.Transformer.generate_square_subsequent_mask`."""
    allowed = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    if not additive:
        return allowed
    return torch.zeros(n, n, device=device).masked_fill(~allowed, -math.inf)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d) + mask) v, with the weights: (..., L, Dv) and (..., L, S).

    Dividing by sqrt(d) keeps the scores' spread near 1 whatever the size d of the
    queries and keys (a dot product of d unit-variance terms has variance d), so the
    softmax starts neither saturated nor flat. `is_causal` applies `causal_mask`, aligned
    to the top left as PyTorch does; it cannot be combined with `mask`. A query that may
    look at no key gets zero weights and a zero output, as in PyTorch."""
    if is_causal:
        if mask is not None:
            raise ValueError("pass either mask or is_causal, not both")
        L, S = q.shape[-2], k.shape[-2]
        mask = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
    scores = (q / math.sqrt(q.shape[-1])) @ k.transpose(-2, -1)
    if mask is None:
        weights = scores.softmax(dim=-1)
    else:
        scores = scores.masked_fill(~mask, -math.inf) if mask.dtype == torch.bool else scores + mask
        weights = scores.softmax(dim=-1)
        # a row of -inf scores is 0/0 in the softmax: PyTorch returns zeros there, not NaN
        weights = weights.masked_fill(torch.isneginf(scores).all(dim=-1, keepdim=True), 0.0)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Several attentions side by side, each on its own projection of size dim / heads.

    One head's softmax can concentrate on one kind of relation (the previous token, a
    matching bracket); `heads` of them in parallel, at the cost of one full-size
    attention, can follow several, and the output projection mixes what they found
    (Vaswani et al., 2017). `forward(query (N, L, E), key (N, S, E), value (N, S, E),
    mask, is_causal)` returns the output (N, L, E) and every head's weights
    (N, heads, L, S); `nn.MultiheadAttention` returns their mean over the heads."""

    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(dim, dim, bias=bias)
        self.v_proj = nn.Linear(dim, dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, E) -> (N, heads, T, E / heads)."""
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        q, k, v = (
            self._split(self.q_proj(query)),
            self._split(self.k_proj(key)),
            self._split(self.v_proj(value)),
        )
        out, weights = scaled_dot_product_attention(q, k, v, mask, is_causal)
        return self.out_proj(out.transpose(1, 2).flatten(-2)), weights


def load_from_torch(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> MultiHeadAttention:
    """Copy `nn.MultiheadAttention`'s weights into `ours`, which then computes the same.

    PyTorch stacks the three input projections in one (3E, E) matrix, queries, keys,
    values in that order; they are split here into the three layers they are."""
    if not theirs._qkv_same_embed_dim:
        raise ValueError("only nn.MultiheadAttention with kdim = vdim = embed_dim is supported")
    if theirs.num_heads != ours.heads:
        raise ValueError(f"head counts differ: {ours.heads} here, {theirs.num_heads} there")
    with torch.no_grad():
        for layer, weight in zip(
            (ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_weight.chunk(3), strict=True
        ):
            layer.weight.copy_(weight)
        if theirs.in_proj_bias is not None:
            for layer, bias in zip(
                (ours.q_proj, ours.k_proj, ours.v_proj), theirs.in_proj_bias.chunk(3), strict=True
            ):
                layer.bias.copy_(bias)
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        if theirs.out_proj.bias is not None:
            ours.out_proj.bias.copy_(theirs.out_proj.bias)
    return ours


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """Vaswani et al.'s position codes, (length, dim): PE[p, 2i] = sin(p / 10000^(2i/dim)),
    PE[p, 2i+1] = cos(p / 10000^(2i/dim)).

    Attention by itself ignores order (permuting the keys permutes nothing in the
    result), so each position's code is added to its token. Each pair of columns is a
    rotation at its own frequency, so PE[p] . PE[p + k] = sum_i cos(k w_i) depends only
    on the offset k: nearby positions look alike wherever they sit in the sequence."""
    position = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    frequency = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angle = position * frequency  # (length, ceil(dim / 2))
    pe = torch.zeros(length, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return pe.to(torch.get_default_dtype())
