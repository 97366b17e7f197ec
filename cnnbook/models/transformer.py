"""Chapter 10's Transformer, built from `cnnbook.attention`: blocks of self-attention and
a feed-forward layer, each wrapped in a residual connection with layer normalization.

One backbone serves two heads: `TransformerRegressor` reads real-valued sequences with
the interface of Chapter 9's `SequenceRegressor` (so the adding problem trains both the
same way), and `TokenTransformer` reads tokens and predicts tokens, for the language
models of `cnnbook.language`.

The blocks normalize *before* each sublayer (x + f(LN(x)), Xiong et al., 2020), not
after it as in Vaswani et al. (2017): the residual path then carries the input to the
output untouched, and small models train with a plain learning rate and no warm-up. The
block computes what `nn.TransformerEncoderLayer(norm_first=True, dropout=0)` computes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.attention import MultiHeadAttention, sinusoidal_positions


class TransformerBlock(nn.Module):
    """(N, T, dim) -> (N, T, dim): x + attention(LN(x)), then x + FF(LN(x)).

    Attention mixes information across positions, the feed-forward layer (ReLU, `ff`
    hidden units) transforms each position on its own; `is_causal` keeps every position
    from reading later ones. Parameter names follow `nn.TransformerEncoderLayer`."""

    def __init__(self, dim: int, heads: int, ff: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ff)
        self.linear2 = nn.Linear(ff, dim)

    def forward(self, x: torch.Tensor, is_causal: bool = False) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, is_causal=is_causal)[0]
        return x + self.linear2(F.relu(self.linear1(self.norm2(x))))


class Transformer(nn.Module):
    """Embedded inputs (N, T, dim) -> (N, T, dim): sinusoidal positions added, `layers`
    blocks, a final layer normalization. Sequences may be up to `max_len` long.

    With `causal=True` position t sees positions 0..t only (a GPT), otherwise every
    position sees the whole sequence (a BERT, or an encoder)."""

    def __init__(
        self, dim: int, heads: int, layers: int, ff: int, max_len: int, causal: bool = False
    ):
        super().__init__()
        self.causal = causal
        self.register_buffer("positions", sinusoidal_positions(max_len, dim), persistent=False)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, ff) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.positions[: x.shape[1]]
        for block in self.blocks:
            x = block(x, is_causal=self.causal)
        return self.norm(x)


class TransformerRegressor(nn.Module):
    """(N, T, inputs) -> (N, T): one prediction per step, like `SequenceRegressor`.

    Every output reads every input through one attention step: the path from the first
    input to the last output is as short as the path between neighbours."""

    def __init__(
        self,
        inputs: int,
        dim: int = 32,
        heads: int = 2,
        layers: int = 2,
        ff: int = 64,
        max_len: int = 1024,
    ):
        super().__init__()
        self.embed = nn.Linear(inputs, dim)
        self.body = Transformer(dim, heads, layers, ff, max_len)
        self.readout = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.body(self.embed(x))).squeeze(-1)


class TokenTransformer(nn.Module):
    """Tokens (N, T) -> logits (N, T, vocab): a character language model.

    The same network is a masked language model (BERT's objective: predict hidden
    tokens from both sides) with `causal=False`, and a next-token model (GPT's: predict
    each token from those before it) with `causal=True`; only the mask and the training
    targets differ."""

    def __init__(
        self,
        vocab: int,
        dim: int = 48,
        heads: int = 4,
        layers: int = 2,
        ff: int = 192,
        max_len: int = 16,
        causal: bool = False,
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.body = Transformer(dim, heads, layers, ff, max_len, causal)
        self.readout = nn.Linear(dim, vocab)

    @property
    def causal(self) -> bool:
        return self.body.causal

    @property
    def max_len(self) -> int:
        return len(self.body.positions)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.readout(self.body(self.embed(tokens)))
