"""Chapter 10's language models: the docstring corpus, BERT's masking, GPT's shifted
targets and causal attention, training, held-out loss and sampling."""

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

import cnnbook.language as language
from cnnbook.language import (
    IGNORE,
    Vocabulary,
    bert_mask,
    docstring_corpus,
    held_out_loss,
    objective_batch,
    package_docstrings,
    random_windows,
    sample,
    train_language_model,
    unigram_loss,
)
from cnnbook.models.transformer import TokenTransformer


@pytest.fixture(scope="module")
def corpus():
    train, held = docstring_corpus()
    vocabulary = Vocabulary.of(train, held)
    return vocabulary, vocabulary.encode(train), vocabulary.encode(held)


def _tiny(vocab: int, causal: bool) -> TokenTransformer:
    return TokenTransformer(vocab, dim=16, heads=2, layers=1, ff=32, max_len=8, causal=causal)


def test_corpus_is_the_package_docstrings_split_by_docstring(corpus):
    docs = package_docstrings()
    assert language.__doc__.strip() in docs
    assert inspect.getdoc(package_docstrings) in docs  # cleaned of its indentation
    train, held = docstring_corpus()
    assert "\n\n".join(docs) != train
    for doc in [d for d in docs if len(d) > 300][:20]:  # each lies whole on one side
        assert (doc in train) != (doc in held)
    assert 0.05 < len(held) / (len(train) + len(held)) < 0.2
    assert len(train) > 50_000
    vocabulary, train_tokens, _ = corpus
    assert vocabulary.decode(train_tokens) == train  # the fixture saw the same corpus


def test_vocabulary_round_trip_and_mask():
    vocabulary = Vocabulary.of("banana", "band")
    assert vocabulary.chars == "abdn" and len(vocabulary) == 5 and vocabulary.mask == 4
    tokens = vocabulary.encode("bandana")
    assert tokens.tolist() == [1, 0, 3, 2, 0, 3, 0]
    assert vocabulary.decode(tokens) == "bandana"
    assert vocabulary.decode([1, 4, 0]) == "b\u2588a"


def test_random_windows_are_consecutive_stretches():
    tokens = torch.arange(100)
    windows = random_windows(tokens, 50, 7, torch.Generator().manual_seed(0))
    assert windows.shape == (50, 7)
    assert (windows.diff(dim=1) == 1).all() and windows.max() <= 99


def test_bert_masking_proportions():
    """15% chosen; of those 80% [MASK], 10% a random token, 10% unchanged."""
    V, mask = 50, 50
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, V, (400, 500), generator=gen)  # 200,000 positions
    inputs, labels = bert_mask(tokens, mask, V, gen)
    chosen = labels != IGNORE
    assert torch.equal(labels[chosen], tokens[chosen])
    assert torch.equal(inputs[~chosen], tokens[~chosen])  # the rest is left alone
    assert chosen.float().mean().item() == pytest.approx(0.15, abs=0.003)
    n = chosen.sum().item()
    masked = (inputs[chosen] == mask).sum().item() / n
    same = (inputs[chosen] == tokens[chosen]).sum().item() / n
    other = 1 - masked - same
    # a random token equals the original one time in V
    assert masked == pytest.approx(0.8, abs=0.01)
    assert same == pytest.approx(0.1 + 0.1 / V, abs=0.005)
    assert other == pytest.approx(0.1 - 0.1 / V, abs=0.005)
    assert inputs[chosen & (inputs != mask)].max() < V  # random tokens are real ones
    assert labels.dtype == torch.long


def test_objective_batch_shifts_for_gpt_and_masks_for_bert(corpus):
    vocabulary, train, _ = corpus
    gpt, bert = _tiny(len(vocabulary), True), _tiny(len(vocabulary), False)
    gen = torch.Generator().manual_seed(1)
    inputs, labels = objective_batch(gpt, train, 8, 6, gen, vocabulary.mask)
    assert inputs.shape == labels.shape == (8, 6)
    assert torch.equal(inputs[:, 1:], labels[:, :-1])  # the next character
    inputs, labels = objective_batch(bert, train, 8, 6, gen, vocabulary.mask)
    assert inputs.shape == labels.shape == (8, 6)
    assert ((labels == IGNORE) | (labels < vocabulary.mask)).all()


def test_causal_attention_equals_pytorch_is_causal():
    torch.manual_seed(0)
    model = _tiny(20, causal=True)
    attention = model.body.blocks[0].self_attn
    x = torch.randn(3, 8, 16)
    out, weights = attention(x, x, x, is_causal=True)
    q, k, v = (
        attention._split(p(x)) for p in (attention.q_proj, attention.k_proj, attention.v_proj)
    )
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, attention.out_proj(expected.transpose(1, 2).flatten(-2)))
    assert (weights.triu(1) == 0).all()


def test_unigram_loss_closed_forms():
    uniform = torch.arange(4).repeat(100)
    assert unigram_loss(uniform, uniform, 4) == pytest.approx(math.log(4))
    skewed = torch.tensor([0] * 298 + [1])  # counts 299 and 2 after add-one smoothing
    assert unigram_loss(skewed, torch.tensor([1]), 2) == pytest.approx(math.log(301 / 2))


@pytest.mark.parametrize("causal", [True, False])
def test_a_short_training_beats_the_unigram_baseline(corpus, causal):
    vocabulary, train, held = corpus
    torch.manual_seed(0)
    model = _tiny(len(vocabulary), causal)
    before = held_out_loss(model, held[:3000], "cpu", vocabulary.mask, context=8)
    history = train_language_model(
        model, train, 80 if causal else 200, "cpu", vocabulary.mask, context=8, batch_size=64
    )
    after = held_out_loss(model, held[:3000], "cpu", vocabulary.mask, context=8)
    baseline = unigram_loss(train, held[:3000], len(vocabulary))
    assert history.loss[-1] < history.loss[0] and after < before
    # GPT learns the next character's dependence on the last ones at once; BERT spends
    # its first steps on character frequencies (the unigram) before it uses the context
    assert after < baseline - (0.3 if causal else 0.0)


def test_held_out_loss_of_an_untrained_model_is_near_uniform(corpus):
    vocabulary, _, held = corpus
    torch.manual_seed(1)
    loss = held_out_loss(_tiny(len(vocabulary), True), held[:2000], "cpu", vocabulary.mask, 8)
    assert abs(loss - math.log(len(vocabulary))) < 1.0


def test_sampling_is_seeded_and_greedy_at_temperature_zero(corpus):
    vocabulary, _, _ = corpus
    torch.manual_seed(2)
    model = _tiny(len(vocabulary), True)
    a = sample(model, vocabulary, "The ", 20, "cpu", seed=3)
    assert a == sample(model, vocabulary, "The ", 20, "cpu", seed=3)
    assert a != sample(model, vocabulary, "The ", 20, "cpu", seed=4)
    assert len(a) == 24 and a.startswith("The ")
    greedy = sample(model, vocabulary, "The ", 12, "cpu", temperature=0)
    tokens = vocabulary.encode(greedy)
    with torch.no_grad():
        for t in range(4, len(tokens)):
            context = tokens[max(0, t - model.max_len) : t]
            assert model(context.unsqueeze(0))[0, -1].argmax() == tokens[t]
    with pytest.raises(ValueError, match="causal"):
        sample(_tiny(len(vocabulary), False), vocabulary, "a", 3, "cpu")
