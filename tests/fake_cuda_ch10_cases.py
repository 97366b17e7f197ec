"""Chapter 10's training and measuring helpers on a pretend GPU (see `fake_cuda`): a tensor
left on the CPU fails here as it would on a real one. `test_fake_cuda_ch10.py` runs this
file in a fresh interpreter, for the reason `test_fake_cuda.py` gives. The GRU
encoder-decoder is not here: `nn.GRU` on CUDA calls cuDNN, which needs a real GPU."""

import torch
from fake_cuda import fake_cuda

from cnnbook.language import (
    Vocabulary,
    held_out_loss,
    sample,
    train_language_model,
)
from cnnbook.models import TokenTransformer, TransformerRegressor
from cnnbook.sequences import train_adding


def _on_cuda(model: torch.nn.Module) -> bool:
    return {p.device.type for p in model.parameters()} == {"cuda"}


def test_transformer_on_the_adding_problem_on_fake_cuda():
    model = TransformerRegressor(inputs=2, dim=8, heads=2, layers=1, ff=8)
    with fake_cuda() as cuda:
        train_adding(model, 6, 2, cuda, batch_size=4, eval_every=1)
        assert _on_cuda(model)


def test_language_models_on_fake_cuda():
    vocabulary = Vocabulary.of("a cab bad")
    tokens = vocabulary.encode("a cab bad " * 20)
    for causal in (False, True):
        model = TokenTransformer(len(vocabulary), dim=8, heads=2, layers=1, ff=8, max_len=6,
                                 causal=causal)  # fmt: skip
        with fake_cuda() as cuda:
            train_language_model(model, tokens, 2, cuda, vocabulary.mask, context=6, batch_size=4)
            assert _on_cuda(model)
            held_out_loss(model, tokens[:40], cuda, vocabulary.mask, context=6)
            if causal:
                assert len(sample(model, vocabulary, "ab", 3, cuda)) == 5
