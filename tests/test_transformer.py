"""Chapter 10's Transformer block against PyTorch's, the causal mask in a whole model, and
the first-step gradient of an LSTM and a Transformer."""

import pytest
import torch
from torch import nn

from cnnbook.attention import causal_mask, load_from_torch
from cnnbook.models import SequenceRegressor
from cnnbook.models.transformer import TokenTransformer, TransformerBlock, TransformerRegressor
from cnnbook.path_length import first_step_gradients, init_models, input_gradient_norms


def _block_like(theirs: nn.TransformerEncoderLayer, dim, heads, ff) -> TransformerBlock:
    ours = TransformerBlock(dim, heads, ff).double()
    load_from_torch(ours.self_attn, theirs.self_attn)
    for name in ("linear1", "linear2", "norm1", "norm2"):
        getattr(ours, name).load_state_dict(getattr(theirs, name).state_dict())
    return ours


@pytest.mark.parametrize(
    ("dim", "heads", "ff", "T"), [(8, 2, 16, 5), (12, 3, 7, 1), (16, 4, 32, 9)]
)
def test_block_equals_pytorch_encoder_layer(dim, heads, ff, T):
    gen = torch.Generator().manual_seed(dim)
    theirs = nn.TransformerEncoderLayer(
        dim, heads, ff, dropout=0.0, batch_first=True, norm_first=True, dtype=torch.float64
    ).eval()
    with torch.no_grad():  # PyTorch's zero biases and unit norms would hide a misplaced one
        for p in theirs.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
    ours = _block_like(theirs, dim, heads, ff)
    x = torch.randn(3, T, dim, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))
    mask = causal_mask(T, additive=True).double()
    torch.testing.assert_close(ours(x, is_causal=True), theirs(x, src_mask=mask, is_causal=True))


def test_causal_model_does_not_read_ahead():
    """Changing tokens after t leaves the causal model's outputs up to t unchanged."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    causal = TokenTransformer(11, dim=16, heads=2, layers=2, ff=32, max_len=12, causal=True)
    bidirectional = TokenTransformer(11, dim=16, heads=2, layers=2, ff=32, max_len=12)
    assert causal.causal and not bidirectional.causal and causal.max_len == 12
    tokens = torch.randint(0, 11, (4, 12), generator=gen)
    for t in (0, 5, 10):
        changed = tokens.clone()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % 11
        with torch.no_grad():
            before, after = causal(tokens), causal(changed)
            torch.testing.assert_close(before[:, : t + 1], after[:, : t + 1])
            assert not torch.allclose(before[:, t + 1 :], after[:, t + 1 :])
            # without the mask, the earlier positions see the change
            assert not torch.allclose(bidirectional(tokens)[:, t], bidirectional(changed)[:, t])


def test_positions_make_the_model_see_order():
    """Attention alone is blind to order: the position codes are what tell a sequence from
    its reversal."""
    torch.manual_seed(1)
    model = TransformerRegressor(inputs=3, dim=8, heads=2, layers=1, ff=8)
    x = torch.randn(2, 6, 3)
    with torch.no_grad():
        assert not torch.allclose(model(x)[:, -1], model(x.flip(1))[:, 0])
        model.body.positions.zero_()
        torch.testing.assert_close(model(x)[:, -1], model(x.flip(1))[:, 0])


def test_regressor_has_the_recurrent_models_interface():
    x = torch.randn(4, 7, 2)
    assert TransformerRegressor(inputs=2)(x).shape == SequenceRegressor("LSTM", 2, 8)(x).shape


def test_input_gradient_norms_equal_backward():
    torch.manual_seed(2)
    model = TransformerRegressor(inputs=2, dim=8, heads=2, layers=1, ff=8)
    x = torch.randn(3, 5, 2, requires_grad=True)
    model(x)[:, -1].sum().backward()
    torch.testing.assert_close(input_gradient_norms(model, x), x.grad.norm(dim=(0, 2)))


def test_first_step_gradient_fades_in_the_lstm_only():
    torch.manual_seed(0)
    result = first_step_gradients([5, 60], dim=8, n=4)
    assert result["length"] == [5, 60]
    lstm, transformer = result["LSTM"], result["Transformer"]
    assert lstm[1] < 1e-6 * lstm[0]  # exponential in the length
    assert transformer[1] > 0.02 * transformer[0]  # about 1 / length
    assert transformer[1] > 1e6 * lstm[1]


def test_init_models_follow_the_global_seed():
    torch.manual_seed(3)
    a = init_models(dim=8)
    torch.manual_seed(3)
    b = init_models(dim=8)
    for name in a:
        assert next(a[name].parameters()).dtype == torch.float64
        for p, q in zip(a[name].parameters(), b[name].parameters(), strict=True):
            assert torch.equal(p, q)
