"""Chapter 7 (Semantic segmentation): the exercises, their cases and their points.

Every reference is computed here independently of the solutions: from PyTorch
(`F.conv_transpose2d`, `nn.ConvTranspose2d`, `F.linear`, `F.conv2d`, `F.interpolate`)
or, for the scores, from boolean masks class by class rather than from a confusion
matrix. `tests/test_grading_chapters.py` checks the score references against
`torchmetrics`, which students need not install.
"""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.grading.chapters.ch01 import CONV_OPS
from cnnbook.grading.checks import (
    Case,
    Exercise,
    close_float,
    close_tensor,
    same_int,
    tensor_difference,
)
from cnnbook.grading.operators import UPSAMPLING, aten_operators

NOTEBOOK = "07-segmentation"


def _convolutionalize_cases(seed: int) -> list[Case]:
    """Per linear layer two cases: the input it was built for (one score per output) and
    a larger one (a map of scores, the classifier slid over the input)."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    shapes = [((16, 4, 4), 10, True), ((3, 2, 5), 4, False)]
    while len(shapes) < 4:
        shape = (rng.randint(1, 6), rng.randint(1, 5), rng.randint(1, 5))
        shapes.append((shape, rng.randint(1, 12), rng.random() < 0.7))
    cases = []
    for (c, h, w), outputs, with_bias in shapes:
        weight = torch.randn(outputs, c * h * w, generator=gen)
        bias = torch.randn(outputs, generator=gen) if with_bias else None
        linear = {"__linear__": (weight, bias)}
        exact = torch.randn(2, c, h, w, generator=gen)
        expected = F.linear(exact.flatten(1), weight, bias).view(2, outputs, 1, 1)
        label = f"Linear({c * h * w}, {outputs}, bias={with_bias}), in_shape {(c, h, w)}"
        cases.append(Case(f"{label}, x {tuple(exact.shape)}", (linear, (c, h, w)), {}, expected,
                          inputs=(exact,), returns_module=True))  # fmt: skip
        wide = torch.randn(1, c, h + rng.randint(1, 4), w + rng.randint(2, 6), generator=gen)
        expected = F.conv2d(wide, weight.view(outputs, c, h, w), bias)
        cases.append(Case(f"{label}, x {tuple(wide.shape)}", (linear, (c, h, w)), {}, expected,
                          inputs=(wide,), returns_module=True))  # fmt: skip
    return cases


def _same_conv(got: Any, case: Case) -> str | None:
    if not isinstance(got, dict) or "type" not in got:
        return "the returned layer could not be run"
    if got["type"] != "Conv2d":
        return f"returned {got['type']}, expected an nn.Conv2d"
    if "output" not in got:
        return f"the returned layer raised {got.get('error', 'an error')}"
    return tensor_difference(got["output"], case.expected, 1e-4, 1e-4)


def _transposed_settings(rng: random.Random, count: int, fixed: list) -> list[tuple]:
    settings = list(fixed)
    while len(settings) < count:
        stride, dilation = rng.randint(1, 3), rng.randint(1, 2)
        kernel, size = rng.randint(1, 4), rng.randint(1, 6)
        padding = rng.randint(0, 2)
        output_padding = rng.randint(0, max(stride, dilation) - 1)
        out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
        if out > 0:
            settings.append((size, kernel, stride, padding, output_padding, dilation))
    return settings


def _output_size_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    fixed = [(2, 4, 2, 1, 0, 1), (3, 3, 2, 1, 1, 1), (5, 3, 1, 0, 0, 2)]
    cases = []
    for size, kernel, stride, padding, output_padding, dilation in _transposed_settings(
        rng, 12, fixed
    ):
        with torch.device("meta"):
            layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding,
                                       dilation=dilation)  # fmt: skip
            expected = layer(torch.empty(1, 1, size, size)).shape[-1]
        cases.append(Case(
            f"size={size}, kernel_size={kernel}, stride={stride}, padding={padding}, "
            f"output_padding={output_padding}, dilation={dilation}",
            (size, kernel),
            {"stride": stride, "padding": padding, "output_padding": output_padding,
             "dilation": dilation},
            int(expected),
        ))  # fmt: skip
    return cases


def _conv_transpose_cases(seed: int) -> list[Case]:
    """One channel first (easy to debug), a fixed hard one (every option at once, a
    non-square input and kernel), then random ones."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    settings = [((1, 1, 2, 2), (1, 1, 3, 3), False, 2, 0, 0, 1),
                ((2, 3, 4, 3), (3, 2, 3, 2), True, 3, 1, 2, 2)]  # fmt: skip
    for size, kernel, stride, padding, output_padding, dilation in _transposed_settings(rng, 5, []):
        c_in, c_out = rng.randint(1, 3), rng.randint(1, 3)
        x_shape = (rng.randint(1, 2), c_in, size, size + rng.randint(0, 2))
        settings.append((x_shape, (c_in, c_out, kernel, kernel), rng.random() < 0.5, stride,
                         padding, output_padding, dilation))  # fmt: skip
    cases = []
    for x_shape, w_shape, with_bias, stride, padding, output_padding, dilation in settings:
        x = torch.randn(x_shape, generator=gen)
        weight = torch.randn(w_shape, generator=gen)
        bias = torch.randn(w_shape[1], generator=gen) if with_bias else None
        options = {"stride": stride, "padding": padding, "output_padding": output_padding,
                   "dilation": dilation}  # fmt: skip
        expected = F.conv_transpose2d(x, weight, bias, **options)
        cases.append(Case(
            f"x {x_shape}, weight {w_shape}, bias={'yes' if with_bias else 'None'}, "
            + ", ".join(f"{k}={v}" for k, v in options.items()),
            (x, weight, bias), options, expected,
        ))  # fmt: skip
    return cases


def _bilinear_reference(factor: int) -> torch.Tensor:
    """The kernel read off `F.interpolate`: the response to a unit impulse far from the
    borders, cropped to where it is not zero."""
    size = 2 * factor - factor % 2
    impulse = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    impulse[0, 0, 4, 4] = 1
    response = F.interpolate(impulse, scale_factor=factor, mode="bilinear", align_corners=False)
    rows = response[0, 0].abs().sum(1).nonzero().flatten()
    start = int(rows[0])
    return response[0, 0, start : start + size, start : start + size].float()


def _bilinear_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    factors = [2, 3, 4]
    while len(factors) < 7:
        factors.append(rng.randint(1, 9))
    return [Case(f"factor={f}", (f,), {}, _bilinear_reference(f)) for f in factors]


def _label_cases(seed: int) -> list[tuple[str, torch.Tensor, torch.Tensor, int, int | None]]:
    """(description, pred, target, num_classes, ignore_index): random labels, a class
    absent from both, ignored pixels (255 and a class id), one image and a batch."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(8):
        k = [3, 4, 5, 2][i % 4] + rng.randint(0, 2)
        shape = (rng.randint(1, 3), rng.randint(2, 7), rng.randint(2, 7)) if i % 2 else (6, 5)
        used = k - 1 if i in (1, 4, 6) else k  # the last class never occurs in these
        target = torch.randint(0, used, shape, generator=gen)
        pred = torch.where(torch.rand(shape, generator=gen) < 0.6, target,
                           torch.randint(0, used, shape, generator=gen))  # fmt: skip
        ignore = [None, 255, None, 0, 255, None, 1, None][i]
        if ignore == 255:
            target[torch.rand(shape, generator=gen) < 0.25] = 255
        cases.append((f"{k} classes, labels {tuple(shape)}, ignore_index={ignore}"
                      + (f", class {k - 1} absent" if used < k else ""),
                      pred, target, k, ignore))  # fmt: skip
    # A class the prediction uses and the target never does: its IoU is 0 and counts, so
    # averaging over the target's classes only scores these too high.
    for k, shape, ignore in ((4, (6, 5), None), (3, (2, 4, 6), 255)):
        target = torch.randint(0, k - 1, shape, generator=gen)
        pred = torch.where(torch.rand(shape, generator=gen) < 0.7, target, torch.full(shape, k - 1))
        cases.append((f"{k} classes, labels {shape}, ignore_index={ignore}, class {k - 1} only "
                      "predicted", pred, target, k, ignore))  # fmt: skip
    return cases


def _confusion_reference(pred, target, k, ignore) -> torch.Tensor:
    keep = torch.ones_like(target, dtype=torch.bool) if ignore is None else target != ignore
    counts = torch.zeros(k, k, dtype=torch.long)
    for t in range(k):
        for p in range(k):
            counts[t, p] = int(((target == t) & (pred == p) & keep).sum())
    return counts


def _mean_iou_reference(pred, target, k, ignore) -> float:
    keep = torch.ones_like(target, dtype=torch.bool) if ignore is None else target != ignore
    scores = []
    for c in range(k):
        union = int((((pred == c) | (target == c)) & keep).sum())
        if union and c != ignore:
            scores.append(int(((pred == c) & (target == c) & keep).sum()) / union)
    return sum(scores) / len(scores)


def _confusion_cases(seed: int) -> list[Case]:
    return [
        Case(text, (pred, target, k), {"ignore_index": ignore},
             _confusion_reference(pred, target, k, ignore))
        for text, pred, target, k, ignore in _label_cases(seed)
    ]  # fmt: skip


def _mean_iou_cases(seed: int) -> list[Case]:
    return [
        Case(text, (pred, target, k), {"ignore_index": ignore},
             _mean_iou_reference(pred, target, k, ignore))
        for text, pred, target, k, ignore in _label_cases(seed)
    ]  # fmt: skip


def _same_counts(got: Any, case: Case) -> str | None:
    if isinstance(got, torch.Tensor) and got.dtype != torch.long and not got.is_floating_point():
        got = got.long()  # any integer type will do for counts
    return tensor_difference(got, case.expected, 0.0, 0.0)


def _fcn_reference(scores, skips, final_weight) -> torch.Tensor:
    """FCN's head written out with PyTorch's layers: per skip, the coarse scores upsampled
    2x (kernel 4, stride 2, padding 1) plus the skip's 1x1 scores; then the final
    upsampling by f (kernel 2f, stride f, padding f / 2)."""
    for features, weight, bias, up in skips:
        scores = F.conv_transpose2d(scores, up, stride=2, padding=1) + F.conv2d(
            features, weight[:, :, None, None], bias
        )
    factor = final_weight.shape[-1] // 2
    return F.conv_transpose2d(scores, final_weight, stride=factor, padding=factor // 2)


def _fcn_cases(seed: int) -> list[Case]:
    """FCN-32s, -16s and -8s heads on random score maps, features and weights (random
    upsampling weights, so an interpolation in their place fails), and one whose
    upsamplings are bilinear as FCN initialises them."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    # (description, batch, classes, coarse height and width, skip channels, bilinear)
    settings = [
        ("FCN-32s (no skips)", 1, 2, (2, 2), (), False),
        ("FCN-16s (the pool4 skip)", 2, 3, (2, 3), (5,), False),
        ("FCN-8s (pool4, then pool3)", 1, 4, (1, 2), (6, 3), False),
        ("FCN-8s with bilinear upsampling weights", 2, 3, (2, 2), (4, 2), True),
        ("FCN-8s, a 1x1 coarse map and one class", 1, 1, (1, 1), (2, 3), False),
    ]
    while len(settings) < 8:
        skips = tuple(rng.randint(1, 6) for _ in range(rng.randint(0, 2)))
        settings.append((f"FCN-{32 >> len(skips)}s", rng.randint(1, 3), rng.randint(1, 4),
                         (rng.randint(1, 3), rng.randint(1, 3)), skips, False))  # fmt: skip

    def upsampling(classes, factor, bilinear):
        if not bilinear:
            return torch.randn(classes, classes, 2 * factor, 2 * factor, generator=gen) / factor
        weight = torch.zeros(classes, classes, 2 * factor, 2 * factor)
        for c in range(classes):
            weight[c, c] = _bilinear_reference(factor)
        return weight

    cases = []
    for text, n, classes, (h, w), channels, bilinear in settings:
        scores = torch.randn(n, classes, h, w, generator=gen)
        skips = []
        for k, c in enumerate(channels, start=1):
            features = torch.randn(n, c, h << k, w << k, generator=gen)
            weight = torch.randn(classes, c, generator=gen) / c**0.5
            bias = torch.randn(classes, generator=gen)
            skips.append((features, weight, bias, upsampling(classes, 2, bilinear)))
        final = upsampling(classes, 32 >> len(channels), bilinear)
        expected = _fcn_reference(scores, skips, final)
        shapes = ", ".join(f"{tuple(s[0].shape)}" for s in skips) or "none"
        cases.append(Case(
            f"{text}: scores {tuple(scores.shape)}, skip features {shapes}",
            (scores, skips, final), {}, expected,
        ))  # fmt: skip
    return cases


TRANSPOSED = frozenset({
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "cnnbook",
})  # fmt: skip
INTERPOLATE = frozenset({"interpolate", "upsample", "upsample_bilinear", "Upsample",
                         "UpsamplingBilinear2d", "cnnbook"})  # fmt: skip
INTERPOLATE_OPS = UPSAMPLING | aten_operators(r"grid_sampler")  # grid_sample interpolates too

# Points per exercise, next to the cases that earn them; the chapter is worth 14.
EXERCISES = (
    Exercise("convolutionalize", 2, _convolutionalize_cases, _same_conv, frozenset({"cnnbook"})),
    Exercise("transposed_output_size", 1, _output_size_cases, same_int, TRANSPOSED, CONV_OPS),
    Exercise("conv_transpose2d", 3, _conv_transpose_cases, close_tensor(atol=1e-4, rtol=1e-4),
             TRANSPOSED, CONV_OPS | {"autograd"}),
    Exercise("bilinear_kernel", 2, _bilinear_cases, close_tensor(atol=1e-6, rtol=1e-5),
             INTERPOLATE, INTERPOLATE_OPS),
    Exercise("confusion_matrix", 2, _confusion_cases, _same_counts, frozenset({"cnnbook"})),
    Exercise("mean_iou", 2, _mean_iou_cases, close_float, frozenset({"cnnbook"})),
    Exercise("fcn_head", 2, _fcn_cases, close_tensor(atol=1e-4, rtol=1e-4),
             INTERPOLATE | {"FCN"}, INTERPOLATE_OPS),
)  # fmt: skip
