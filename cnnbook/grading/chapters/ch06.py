"""Chapter 6 (Modern CNNs): the exercises, their cases and their points.

The blocks (Inception, residual, dense, transition) are graded through data: the
student's block runs with seeded random weights and batch-norm statistics, its state
dict must load into the block of `cnnbook.models` (same attribute names, same layer
order, same shapes), and that reference with those weights must give the same output.
VGG-16's parameter count and an Inception block's multiply-accumulates are compared with
the counts by formula of `cnnbook.models.counting`, which its tests check against the
modules.
"""

from __future__ import annotations

import random

import torch

from cnnbook.grading.checks import Case, Exercise, same_int, same_module
from cnnbook.models import VGG16, BasicBlock, Bottleneck, DenseBlock, InceptionBlock, Transition
from cnnbook.models.counting import inception_macs, vgg_params

NOTEBOOK = "06-modern-cnns"


def _module_cases(name: str, seed: int, fixed: list, draw, count: int) -> list[Case]:
    """Cases for the block `name`: each setting is (constructor args, input shape);
    `draw(rng)` adds random settings until there are `count`."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = list(fixed)
    while len(settings) < count:
        settings.append(draw(rng))
    cases = []
    for args, shape in settings:
        x = torch.randn(shape, generator=gen)
        cases.append(Case(f"{name}{args}, x {shape}", args, {}, None, inputs=(x,)))
    return cases


def _inception_cases(seed: int) -> list[Case]:
    def draw(rng: random.Random):
        c = rng.randint(1, 5)
        args = (c, *(rng.randint(1, 4) for _ in range(6)))
        return args, (2, c, rng.randint(4, 9), rng.randint(4, 9))

    fixed = [
        ((3, 2, 2, 3, 1, 2, 2), (2, 3, 6, 6)),
        ((4, 1, 3, 2, 2, 3, 1), (2, 4, 5, 7)),
        ((2, 3, 1, 1, 1, 1, 3), (1, 2, 4, 4)),
    ]
    return _module_cases("InceptionBlock", seed, fixed, draw, 6)


def _basic_cases(seed: int) -> list[Case]:
    def draw(rng: random.Random):
        c_in, stride = rng.randint(1, 6), rng.choice([1, 2])
        c_out = rng.choice([c_in, rng.randint(1, 6)])
        return (c_in, c_out, stride), (2, c_in, rng.randint(4, 9), rng.randint(4, 9))

    fixed = [
        ((3, 3, 1), (2, 3, 6, 6)),  # identity shortcut
        ((3, 5, 1), (2, 3, 5, 5)),  # more channels: projection
        ((4, 4, 2), (2, 4, 8, 8)),  # stride 2: projection
        ((2, 6, 2), (2, 2, 7, 5)),  # both, odd sizes
    ]
    return _module_cases("BasicBlock", seed, fixed, draw, 7)


def _bottleneck_cases(seed: int) -> list[Case]:
    def draw(rng: random.Random):
        mid, stride = rng.randint(1, 3), rng.choice([1, 2])
        c_in = rng.choice([4 * mid, rng.randint(1, 8)])
        return (c_in, mid, stride), (2, c_in, rng.randint(4, 9), rng.randint(4, 9))

    fixed = [
        ((8, 2, 1), (2, 8, 6, 6)),  # 4 x mid = in: identity shortcut
        ((3, 2, 1), (2, 3, 5, 5)),  # more channels: projection
        ((8, 2, 2), (2, 8, 8, 8)),  # stride 2: projection
        ((4, 3, 2), (2, 4, 7, 5)),  # both, odd sizes
    ]
    return _module_cases("Bottleneck", seed, fixed, draw, 7)


def _dense_cases(seed: int) -> list[Case]:
    def draw(rng: random.Random):
        c = rng.randint(1, 6)
        args = (c, rng.randint(1, 4), rng.randint(1, 4))
        return args, (2, c, rng.randint(4, 9), rng.randint(4, 9))

    fixed = [
        ((3, 2, 1), (2, 3, 5, 5)),
        ((3, 2, 3), (2, 3, 6, 6)),
        ((4, 3, 4), (2, 4, 5, 7)),
        ((1, 1, 2), (1, 1, 4, 4)),
    ]
    return _module_cases("DenseBlock", seed, fixed, draw, 6)


def _transition_cases(seed: int) -> list[Case]:
    def draw(rng: random.Random):
        c = rng.randint(1, 8)
        return (c, rng.randint(1, 8)), (2, c, rng.randint(4, 9), rng.randint(4, 9))

    fixed = [
        ((4, 2), (2, 4, 6, 6)),
        ((6, 3), (2, 6, 8, 4)),
        ((3, 5), (2, 3, 7, 5)),  # odd sizes: the pool drops the last row and column
    ]
    return _module_cases("Transition", seed, fixed, draw, 5)


def _vgg_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    settings: list[dict] = [{}, {"num_classes": 10}, {"in_channels": 1, "num_classes": 10}]
    while len(settings) < 6:
        settings.append({"num_classes": rng.randint(2, 2000), "in_channels": rng.randint(1, 4)})
    return [
        Case(
            ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults",
            (),
            kwargs,
            vgg_params(VGG16, kwargs.get("in_channels", 3), kwargs.get("num_classes", 1000)),
        )
        for kwargs in settings
    ]


def _inception_macs_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    block_3a = (192, 28, 28, 64, 96, 128, 16, 32, 32)
    settings = [(block_3a, True), (block_3a, False), ((3, 5, 7, 2, 1, 4, 3, 2, 1), True)]
    while len(settings) < 8:
        args = (rng.randint(1, 64), rng.randint(1, 20), rng.randint(1, 20))
        args += tuple(rng.randint(1, 48) for _ in range(6))
        settings.append((args, rng.random() < 0.5))
    return [
        Case(
            f"in_channels, height, width, widths = {args}, reductions={reductions}",
            args,
            {"reductions": reductions},
            inception_macs(*args, reductions=reductions),
        )
        for args, reductions in settings
    ]


# A block is written from nn layers; reaching the course's own models or torchvision's
# would copy the answer. (The import lines of both are dropped by the grader anyway; these
# names catch an import made inside a method.)
LIBRARIES = frozenset({"cnnbook", "torchvision"})

# Points per exercise, next to the cases that earn them; the chapter is worth 18.
EXERCISES = (
    Exercise("vgg16_param_count", 2, _vgg_cases, same_int, LIBRARIES),
    Exercise("InceptionBlock", 3, _inception_cases, same_module(InceptionBlock), LIBRARIES),
    Exercise("BasicBlock", 3, _basic_cases, same_module(BasicBlock), LIBRARIES),
    Exercise("Bottleneck", 3, _bottleneck_cases, same_module(Bottleneck), LIBRARIES),
    Exercise("DenseBlock", 3, _dense_cases, same_module(DenseBlock), LIBRARIES),
    Exercise("Transition", 2, _transition_cases, same_module(Transition), LIBRARIES),
    Exercise("inception_macs", 2, _inception_macs_cases, same_int, LIBRARIES),
)
