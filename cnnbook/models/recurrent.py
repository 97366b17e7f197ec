"""Chapter 9's sequence model: one recurrent layer read out by a linear layer.

The same small network serves every experiment of the chapter (next-value prediction
on a series, the adding problem), so RNN, LSTM and GRU differ in nothing but the
recurrent layer.
"""

from __future__ import annotations

import torch
from torch import nn

RECURRENT_LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


class SequenceRegressor(nn.Module):
    """(N, T, inputs) -> (N, T): one prediction per step, from that step's hidden state.

    `forget_bias` sets the LSTM forget gate's bias (Gers et al.'s trick: start with the
    gate open, so the cell state is kept by default); it is ignored by RNN and GRU."""

    def __init__(self, kind: str, inputs: int, hidden: int, forget_bias: float = 0.0):
        super().__init__()
        if kind not in RECURRENT_LAYERS:
            raise ValueError(f"kind must be one of {sorted(RECURRENT_LAYERS)}, got {kind!r}")
        self.kind = kind
        self.recurrent = RECURRENT_LAYERS[kind](inputs, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, 1)
        if kind == "LSTM":
            with torch.no_grad():
                self.recurrent.bias_ih_l0[hidden : 2 * hidden] = forget_bias
                self.recurrent.bias_hh_l0[hidden : 2 * hidden] = 0.0

    def forward(self, x: torch.Tensor, state=None) -> torch.Tensor:
        return self.step(x, state)[0]

    def step(self, x: torch.Tensor, state=None):
        """Predictions and the recurrent state after the last step, to continue from."""
        hidden, state = self.recurrent(x, state)
        return self.readout(hidden).squeeze(-1), state
