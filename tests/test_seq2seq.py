"""Chapter 10's digit reversal task, the GRU encoder-decoder with and without attention,
its greedy decoding and the accuracy and alignment measures."""

import pytest
import torch

from cnnbook.data import digit_reversal
from cnnbook.data.sequences import BOS, DIGIT_VOCABULARY, EOS, PAD
from cnnbook.models.seq2seq import EncoderDecoder
from cnnbook.reversal import (
    accuracy_by_length,
    mirror_weight,
    reversal_accuracy,
    reversal_attention,
    train_reversal,
)


def test_digit_reversal_reverses_each_string():
    source, target = digit_reversal(200, 2, 7, torch.Generator().manual_seed(0))
    assert source.shape == (200, 7) and target.shape == (200, 9)
    assert source.max() < DIGIT_VOCABULARY and target.max() < DIGIT_VOCABULARY
    assert (target[:, 0] == BOS).all()
    lengths = (source != PAD).sum(1)
    assert lengths.min() == 2 and lengths.max() == 7  # both ends of the range occur
    for s, t, n in zip(source, target, lengths, strict=True):
        assert (s[n:] == PAD).all() and (s[:n] < 10).all()  # padding only at the end
        assert torch.equal(t[1 : n + 1], s[:n].flip(0))
        assert t[n + 1] == EOS and (t[n + 2 :] == PAD).all()


def test_digit_reversal_is_seeded_and_checks_lengths():
    a = digit_reversal(5, 3, 6, torch.Generator().manual_seed(1))
    b = digit_reversal(5, 3, 6, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    source, target = digit_reversal(4, 5)
    assert (source != PAD).all() and (target[:, -1] == EOS).all()  # one length: no padding
    with pytest.raises(ValueError, match="min_length"):
        digit_reversal(3, 5, 4)
    with pytest.raises(ValueError, match="min_length"):
        digit_reversal(3, 0)


@pytest.mark.parametrize("attention", [False, True])
def test_padding_changes_nothing(attention):
    """The same strings padded to two widths give the same summary and the same logits."""
    torch.manual_seed(0)
    model = EncoderDecoder(attention, embed=8, hidden=12)
    source, target = digit_reversal(6, 2, 5, torch.Generator().manual_seed(2))
    wider = torch.cat([source, torch.full((6, 3), PAD)], dim=1)
    _, summary, _ = model.encode(source)
    _, wider_summary, _ = model.encode(wider)
    torch.testing.assert_close(summary, wider_summary)
    torch.testing.assert_close(model(source, target[:, :-1]), model(wider, target[:, :-1]))
    # the summary is the encoder's last state on the string alone, without any padding
    n = int((source[0] != PAD).sum())
    _, alone = model.encoder(model.embedding(source[:1, :n]))
    torch.testing.assert_close(summary[:, :1], alone)


def test_attention_ignores_padding():
    torch.manual_seed(1)
    model = EncoderDecoder(True, embed=8, hidden=12)
    source, target = digit_reversal(8, 2, 6, torch.Generator().manual_seed(3))
    states, summary, real = model.encode(source)
    _, _, weights = model.decode(target[:, :-1], summary, states, real)
    assert weights.shape == (8, 7, 6)
    assert (weights.masked_select(~real.unsqueeze(1)) == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(8, 7))


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_agrees_with_teacher_forcing_on_its_own_output(attention):
    """Fed its own greedy output, the teacher-forced pass predicts that output again."""
    torch.manual_seed(2)
    model = EncoderDecoder(attention, embed=8, hidden=12)
    source, _ = digit_reversal(5, 3, 5, torch.Generator().manual_seed(4))
    tokens, weights = model.greedy_decode(source, 6)
    assert tokens.shape == (5, 6)
    assert (weights is None) == (not attention)
    inputs = torch.cat([torch.full((5, 1), BOS), tokens[:, :-1]], dim=1)
    assert torch.equal(model(source, inputs).argmax(-1), tokens)


def test_training_lowers_the_loss_and_is_seeded():
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        model = EncoderDecoder(True, embed=8, hidden=16)
        histories.append(train_reversal(model, 60, "cpu", 2, 3, batch_size=32, every=20))
    assert histories[0].steps == [20, 40, 60]
    assert histories[0].loss == histories[1].loss
    assert histories[0].loss[-1] < 0.8 * histories[0].loss[0]


class _Oracle(EncoderDecoder):
    """Writes the reversal of the source, whatever its weights: accuracy 1 by design."""

    def greedy_decode(self, source, steps, bos=BOS):
        lengths = (source != PAD).sum(1)
        out = torch.full((len(source), steps), PAD)
        for i, (s, n) in enumerate(zip(source, lengths, strict=True)):
            out[i, :n] = s[:n].flip(0)
            out[i, n] = EOS
        weights = torch.zeros(len(source), steps, source.shape[1])
        for j in range(source.shape[1]):
            weights[:, j, source.shape[1] - 1 - j] = 1.0
        return out, weights


def test_accuracy_of_a_perfect_and_a_wrong_model():
    oracle = _Oracle(True, embed=4, hidden=4)
    assert reversal_accuracy(oracle, 5, 20, "cpu") == (1.0, 1.0)
    result = accuracy_by_length(oracle, [2, 3], "cpu", n=10)
    assert result == {"length": [2, 3], "exact": [1.0, 1.0], "per_digit": [1.0, 1.0]}
    _, tokens, weights = reversal_attention(oracle, 6, "cpu")
    assert tokens[6] == EOS and mirror_weight(weights) == 1.0

    class Copier(_Oracle):  # writes the source unreversed: most digits wrong
        def greedy_decode(self, source, steps, bos=BOS):
            out, weights = super().greedy_decode(source, steps, bos)
            out[:, : source.shape[1]] = source
            return out, weights

    exact, per_digit = reversal_accuracy(Copier(True, embed=4, hidden=4), 6, 200, "cpu")
    assert exact < 0.01 and per_digit < 0.3


def test_mirror_weight_reads_the_anti_diagonal_and_its_neighbour():
    L = 5
    anti = torch.zeros(L + 1, L)
    anti[torch.arange(L), torch.arange(L - 1, -1, -1)] = 1.0
    anti[L, 0] = 1.0  # the EOS step is not counted
    assert mirror_weight(anti) == 1.0 and mirror_weight(anti, 1) == 0.0
    shifted = torch.zeros(L + 1, L)
    shifted[0, L - 1] = 1.0  # step 0 has no column to its right
    shifted[torch.arange(1, L), torch.arange(L - 1, 0, -1)] = 1.0
    assert mirror_weight(shifted, 1) == pytest.approx((L - 1) / L)
    assert mirror_weight(torch.full((L + 1, L), 1 / L)) == pytest.approx(1 / L)


def test_reversal_attention_needs_attention():
    with pytest.raises(ValueError, match="no attention"):
        reversal_attention(EncoderDecoder(False, embed=4, hidden=4), 3, "cpu")
