"""Chapter 10's encoder-decoder: a GRU reads the source, another GRU writes the target,
with or without attention over the encoder's states.

Without attention the decoder starts from the encoder's last state and sees nothing
else, as in Sutskever et al. (2014) and Cho et al. (2014): the whole source must pass
through that one vector. With attention, every decoder step also reads a weighted mean
of all the encoder's states, weighted by Bahdanau et al.'s (2015) additive scores. The
two models differ in nothing else, so a difference in accuracy is the attention's.

The attention's query is the decoder's current state and its context goes to the
readout, not back into the recurrence (Luong et al.'s 2015 arrangement of Bahdanau's
scores): the decoder GRU then runs over the whole target in one call during training,
which makes the training several times faster on a CPU than a step-by-step loop.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnbook.attention import AdditiveAttention
from cnnbook.data.sequences import BOS, DIGIT_VOCABULARY, PAD


class EncoderDecoder(nn.Module):
    """(source (N, S), decoder inputs (N, T)) -> logits (N, T, vocab), teacher-forced.

    Tokens equal to `pad` in the source are padding at its end: the encoder's summary is
    its state after the last real token, and attention gives padding no weight."""

    def __init__(
        self,
        attention: bool,
        vocab: int = DIGIT_VOCABULARY,
        embed: int = 32,
        hidden: int = 64,
        pad: int = PAD,
    ):
        super().__init__()
        self.pad = pad
        self.embedding = nn.Embedding(vocab, embed)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRU(embed, hidden, batch_first=True)
        self.attention = AdditiveAttention(hidden, hidden, hidden) if attention else None
        self.readout = nn.Linear(2 * hidden if attention else hidden, vocab)

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The encoder's states (N, S, H), its summary (1, N, H) to start the decoder
        from, and the mask (N, S) of real tokens."""
        real = source != self.pad
        states, _ = self.encoder(self.embedding(source))
        last = real.sum(dim=1) - 1  # padding only comes after the last real token
        summary = states[torch.arange(len(source), device=source.device), last]
        return states, summary.unsqueeze(0), real

    def decode(
        self,
        inputs: torch.Tensor,
        state: torch.Tensor,
        states: torch.Tensor,
        real: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Decoder steps over `inputs` (N, T) from `state`: the logits (N, T, vocab), the
        state to continue from, and the attention weights (N, T, S) (None without)."""
        outputs, state = self.decoder(self.embedding(inputs), state)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(outputs, states, states, real)
            outputs = torch.cat([outputs, context], dim=-1)
        return self.readout(outputs), state, weights

    def forward(self, source: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        states, summary, real = self.encode(source)
        return self.decode(inputs, summary, states, real)[0]

    @torch.no_grad()
    def greedy_decode(
        self, source: torch.Tensor, steps: int, bos: int = BOS
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`steps` tokens (N, steps), each the most likely given the ones before, and the
        attention weights of every step (N, steps, S) (None without attention).

        At test time there is no target to feed: each prediction becomes the next input,
        so one early mistake can derail the rest, which teacher forcing never shows."""
        states, state, real = self.encode(source)
        token = torch.full((len(source), 1), bos, dtype=torch.long, device=source.device)
        tokens, weights = [], []
        for _ in range(steps):
            logits, state, w = self.decode(token, state, states, real)
            token = logits.argmax(dim=-1)
            tokens.append(token)
            weights.append(w)
        attention = None if self.attention is None else torch.cat(weights, dim=1)
        return torch.cat(tokens, dim=1), attention
