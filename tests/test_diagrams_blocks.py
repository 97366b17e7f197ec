"""Chapter 6's block diagrams carry the channel counts the models in cnnbook.models have."""

import matplotlib
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.patches import Circle

matplotlib.use("Agg")

from cnnbook.diagrams.blocks import dense_block, inception_block, residual_blocks
from cnnbook.diagrams.shapes import COLORS
from cnnbook.models.dense import DenseBlock, Transition
from cnnbook.models.inception import GOOGLENET_BLOCKS, InceptionBlock
from cnnbook.models.residual import BasicBlock


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def _by_gid(fig, gid):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == gid]


def test_inception_3a_has_the_papers_channels():
    fig = inception_block("3a")
    texts = _texts(fig)
    assert fig.axes[0].get_title() == "Inception block 3a: 192 → 256 channels"
    for label in ("previous layer: 192 channels", "1×1 conv, 64", "1×1 conv, 96",
                  "3×3 conv, 128", "1×1 conv, 16", "5×5 conv, 32", "3×3 max pool",
                  "1×1 conv, 32"):  # fmt: skip
        assert label in texts
    assert _by_gid(fig, "concat") == ["concatenate along channels: 64 + 128 + 32 + 32 = 256"]


@pytest.mark.parametrize("name", ["3a", "4a", "4e", "5b"])
def test_inception_concatenation_matches_the_module_output(name):
    c_in, c1, r3, c3, r5, c5, proj = GOOGLENET_BLOCKS[name]
    out = InceptionBlock(*GOOGLENET_BLOCKS[name])(torch.zeros(1, c_in, 4, 4)).shape[1]
    fig = inception_block(name)
    (concat,) = _by_gid(fig, "concat")
    parts, total = concat.split(": ")[1].split(" = ")
    assert [int(p) for p in parts.split(" + ")] == [c1, c3, c5, proj]
    assert int(total) == out
    texts = _texts(fig)
    for label in (f"1×1 conv, {r3}", f"3×3 conv, {c3}", f"1×1 conv, {r5}", f"5×5 conv, {c5}"):
        assert label in texts
    # each branch's arrow into the concatenation is labelled with its channels
    assert sorted(t for t in texts if t.isdigit()) == sorted(str(c) for c in (c1, c3, c5, proj))


def test_residual_blocks_show_both_branches_bn_relu_addition_and_shortcut():
    fig = residual_blocks()
    assert _by_gid(fig, "basic/conv") == ["3×3 conv, 64", "3×3 conv, 64"]
    assert _by_gid(fig, "bottleneck/conv") == ["1×1 conv, 64", "3×3 conv, 64", "1×1 conv, 256"]
    assert len(_by_gid(fig, "basic/norm")) == 2 and len(_by_gid(fig, "bottleneck/norm")) == 3
    # ReLU inside F: one in the basic block, two in the bottleneck (plus one after the sum)
    assert len(_by_gid(fig, "basic/act")) == 1 and len(_by_gid(fig, "bottleneck/act")) == 2
    texts = _texts(fig)
    assert "x: 256 channels" in texts and "256 channels" in texts and "x: 64 channels" in texts
    adds = [p for p in fig.axes[0].patches if isinstance(p, Circle)]
    assert sorted(p.get_gid() for p in adds) == ["basic/add", "bottleneck/add"]
    assert all(to_hex(p.get_facecolor()) == COLORS["add"] for p in adds)
    shortcuts = [line for line in fig.axes[0].lines if (line.get_gid() or "").endswith("shortcut")]
    assert len(shortcuts) == 2
    for line in shortcuts:  # it starts at the input and ends at the height of the + node
        column = line.get_gid().split("/")[0]
        (add,) = [p for p in adds if p.get_gid() == f"{column}/add"]
        assert line.get_ydata()[-1] == add.center[1]
        assert line.get_ydata()[0] > add.center[1]


def test_the_projection_note_says_what_the_model_does():
    (note,) = _by_gid(residual_blocks(), "projection")
    projection = BasicBlock(64, 128, stride=2).shortcut
    assert projection[0].kernel_size == (1, 1) and projection[0].stride == (2, 2)
    assert isinstance(projection[1], torch.nn.BatchNorm2d)
    assert "1×1 conv with the same stride, then BN" in note


def test_residual_blocks_follow_their_arguments():
    fig = residual_blocks(128, (512, 128))
    assert _by_gid(fig, "basic/conv") == ["3×3 conv, 128"] * 2
    assert _by_gid(fig, "bottleneck/conv") == ["1×1 conv, 128", "3×3 conv, 128", "1×1 conv, 512"]


@pytest.mark.parametrize("k0, k, layers", [(16, 12, 4), (24, 32, 3), (64, 32, 6)])
def test_dense_block_stacks_grow_by_the_growth_rate(k0, k, layers):
    block = DenseBlock(k0, k, layers)
    expected = [layer[0].num_features for layer in block.layers]
    expected.append(block(torch.zeros(1, k0, 4, 4)).shape[1])
    fig = dense_block(k0, k, layers)
    totals = [t for t in fig.axes[0].texts if (t.get_gid() or "").startswith("stack-total:")]
    assert [int(t.get_text().split("= ")[-1]) for t in totals] == expected
    assert [t.get_text() for t in totals][1] == f"$k_0 + 1k$\n= {k0 + k}"
    parts = {}
    for p in fig.axes[0].patches:
        gid = p.get_gid() or ""
        if gid.startswith("stack"):
            parts.setdefault(gid.split("/")[0], []).append(p.get_height())
    assert [len(parts[f"stack{i}"]) for i in range(layers + 1)] == list(range(1, layers + 2))
    heights = [sum(parts[f"stack{i}"]) for i in range(layers + 1)]
    ratios = [h / c for h, c in zip(heights, expected, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios))  # heights proportional to channels
    for layer in range(1, layers + 1):
        (label,) = _by_gid(fig, f"layer:{layer}")
        assert label.endswith(f"{expected[layer - 1]} → {k}")


def test_transition_halves_channels_and_resolution_like_the_module():
    fig = dense_block()
    transition = Transition(64, 32)
    out = transition(torch.zeros(1, 64, 8, 8))
    assert out.shape == (1, 32, 4, 4)
    labels = [_by_gid(fig, f"transition:{i}")[0] for i in range(4)]
    assert labels == ["BN", "ReLU", "1×1 conv, 64 → 32", "2×2 avg pool, stride 2"]
    assert _by_gid(fig, "transition:out") == ["32 channels, H/2 × W/2"]
