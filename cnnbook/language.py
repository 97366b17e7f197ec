"""Chapter 10's language models: BERT's and GPT's objectives on a corpus that ships with
the package, its own docstrings.

The two objectives train the same Transformer (`cnnbook.models.TokenTransformer`) on the
same characters and differ in what the model may see and what it predicts. BERT hides
some characters and predicts them from both sides (Devlin et al., 2018); GPT predicts
every character from those before it, behind a causal mask (Radford et al., 2018), which
is what lets it write text one character at a time. The docstrings are a corpus that
needs no download, so the chapter runs in Colab with nothing but the package installed.
"""

from __future__ import annotations

import ast
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from cnnbook import runtime
from cnnbook.models.transformer import TokenTransformer
from cnnbook.training import StepLosses, train_by_steps

IGNORE = -100  # F.cross_entropy's default ignore_index: no loss at these positions


def package_docstrings() -> list[str]:
    """Every docstring of the cnnbook package (modules, classes, functions), in the order
    of the files' paths and of the lines within each file.

    They are read from the source files with `ast`, without importing anything, so the
    corpus is the same wherever the package is installed (and the widgets' modules need
    no display). Editing a docstring changes the corpus, as editing a book would."""
    root = Path(__file__).resolve().parent
    docs = []
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef)]
        for node in [tree, *sorted(nodes, key=lambda n: n.lineno)]:
            doc = ast.get_docstring(node)
            if doc:
                docs.append(doc)
    return docs


def docstring_corpus(held_out_every: int = 10) -> tuple[str, str]:
    """The training text and the held-out text, each docstring joined to the next by a
    blank line: about one docstring in `held_out_every` is held out, whole.

    Holding out whole docstrings, rather than a random tenth of the characters, means the
    held-out loss is measured on passages the model never read a word of. Which ones
    are held out depends on each docstring's own text (its CRC-32 checksum), not on its
    place in the package, so adding a module elsewhere moves no docstring across."""
    train, held_out = [], []
    for doc in package_docstrings():
        (held_out if zlib.crc32(doc.encode()) % held_out_every == 0 else train).append(doc)
    return "\n\n".join(train), "\n\n".join(held_out)


@dataclass(frozen=True)
class Vocabulary:
    """The characters of a text, one token each, plus a [MASK] token at the end.

    Built from the training and the held-out text together, so no character is unknown;
    only which characters exist is shared, not how often they occur."""

    chars: str

    @classmethod
    def of(cls, *texts: str) -> Vocabulary:
        return cls("".join(sorted(set("".join(texts)))))

    @property
    def mask(self) -> int:
        """The [MASK] token, which stands for no character."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars) + 1

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.chars)}
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, tokens: torch.Tensor | list[int]) -> str:
        """The text of `tokens`, with [MASK] shown as a full block, a character the corpus
        does not use."""
        return "".join(
            "\u2588" if t == self.mask else self.chars[t] for t in torch.as_tensor(tokens).tolist()
        )


def random_windows(
    tokens: torch.Tensor, n: int, length: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n stretches of `length` consecutive tokens (n, length), from random places in a
    1-D tensor of tokens (a text, encoded)."""
    starts = torch.randint(0, len(tokens) - length + 1, (n,), generator=generator)
    return tokens[starts.unsqueeze(1) + torch.arange(length)]


def bert_mask(
    tokens: torch.Tensor,
    mask_token: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    rate: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: the model's inputs and the labels to predict, both like `tokens`.

    Each position is chosen with probability `rate`; of the chosen ones 80% become
    `mask_token`, 10% a random token below `vocab_size` and 10% stay as they are. Labels
    hold the original token at the chosen positions and IGNORE (-100) elsewhere.
    [MASK] never occurs when the model is used: if every chosen position showed it, the
    model would learn to think only where it sees [MASK]. The random and unchanged
    tenths make any visible token a possible question. Draws on the CPU, where the
    batches are made before they move to the device."""
    chosen = torch.rand(tokens.shape, generator=generator) < rate
    action = torch.rand(tokens.shape, generator=generator)
    random_tokens = torch.randint(0, vocab_size, tokens.shape, generator=generator)
    inputs = torch.where(chosen & (action < 0.8), mask_token, tokens)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs)
    return inputs, torch.where(chosen, tokens, IGNORE)


def objective_batch(
    model: TokenTransformer,
    tokens: torch.Tensor,
    n: int,
    length: int,
    generator: torch.Generator,
    mask_token: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch (inputs, labels) of n windows for the model's objective: the next
    character when it is causal (labels are the inputs shifted by one), the masked
    characters (`bert_mask`) when it is not."""
    if model.causal:
        windows = random_windows(tokens, n, length + 1, generator)
        return windows[:, :-1], windows[:, 1:]
    return bert_mask(
        random_windows(tokens, n, length, generator), mask_token, mask_token, generator
    )


def objective_loss(
    model: TokenTransformer, inputs: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy, in nats per predicted character, over the labelled positions."""
    logits = model(inputs)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)


def train_language_model(
    model: TokenTransformer,
    tokens: torch.Tensor,
    steps: int,
    device: torch.device | str,
    mask_token: int,
    context: int = 16,
    batch_size: int = 128,
    lr: float = 0.01,
    max_norm: float = 1.0,
    every: int = 50,
    seed: int = 0,
) -> StepLosses:
    """Adam on random windows of `context` characters of the encoded training text, with
    the objective `model.causal` calls for (`objective_batch`).

    Only the mask and the targets change between BERT's and GPT's training: the network,
    the data and the optimizer are the same."""
    model.to(device)
    batches = runtime.generator(seed)

    def step_loss() -> torch.Tensor:
        inputs, labels = objective_batch(model, tokens, batch_size, context, batches, mask_token)
        return objective_loss(model, inputs.to(device), labels.to(device))

    return train_by_steps(model, step_loss, steps, lr, max_norm, every)


@torch.no_grad()
def held_out_loss(
    model: TokenTransformer,
    tokens: torch.Tensor,
    device: torch.device | str,
    mask_token: int,
    context: int = 16,
    seed: int = 1000,
) -> float:
    """The model's objective on held-out text, in nats per predicted character.

    The text is cut into consecutive windows of `context` characters, so every character
    is scored once (as a next character, or as a candidate for BERT's masking, drawn
    from `seed`). Lower than `unigram_loss` means the model uses the context."""
    model.eval()
    usable = (len(tokens) - 1) // context * context
    total, count = 0.0, 0
    if model.causal:
        inputs = tokens[:usable].view(-1, context)
        labels = tokens[1 : usable + 1].view(-1, context)
    else:
        inputs, labels = bert_mask(
            tokens[:usable].view(-1, context), mask_token, mask_token, runtime.generator(seed)
        )
    for i in range(0, len(inputs), 256):
        x, y = inputs[i : i + 256].to(device), labels[i : i + 256].to(device)
        logits = model(x)
        total += F.cross_entropy(
            logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE, reduction="sum"
        ).item()
        count += (y != IGNORE).sum().item()
    model.train()
    return total / count


def unigram_loss(train: torch.Tensor, held_out: torch.Tensor, vocab_size: int) -> float:
    """The held-out cross-entropy of predicting every character from the training text's
    character frequencies alone (add-one smoothed), in nats per character.

    It is the best a model can do without looking at any context, so it is the bar a
    language model must clear to show it learned anything beyond spelling statistics."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1
    log_p = (counts / counts.sum()).log()
    return -log_p[held_out].mean().item()


@torch.no_grad()
def sample(
    model: TokenTransformer,
    vocabulary: Vocabulary,
    prompt: str,
    length: int,
    device: torch.device | str,
    temperature: float = 1.0,
    seed: int = 0,
) -> str:
    """The prompt continued by `length` characters of a causal model, each drawn from the
    model's distribution sharpened by `temperature` (0: always the most likely one).

    The model reads its last `max_len` characters at each step: it was trained on
    windows of that size or less, and has no position code beyond them."""
    if not model.causal:
        raise ValueError("only a causal model can write text left to right")
    model.eval()
    draws = runtime.generator(seed)
    tokens = vocabulary.encode(prompt).to(device)
    for _ in range(length):
        logits = model(tokens[-model.max_len :].unsqueeze(0))[0, -1, : vocabulary.mask]
        if temperature == 0:
            token = logits.argmax()
        else:
            cumulative = (logits / temperature).softmax(-1).cumsum(-1)
            u = torch.rand((), generator=draws).to(device) * cumulative[-1]
            token = (cumulative < u).sum().clamp(max=len(logits) - 1)  # inverse of the CDF
        tokens = torch.cat([tokens, token.view(1)])
    model.train()
    return vocabulary.decode(tokens.cpu())
