"""Chapter 7's FCN diagram shows the sizes, strides and upsamplings cnnbook.models.fcn.FCN
computes, and stays legible in the book's column."""

import matplotlib
import pytest
import torch
from matplotlib.patches import Circle

matplotlib.use("Agg")

from cnnbook.diagrams.segmentation import fcn_skips
from cnnbook.models.fcn import FCN
from conftest import assert_fits_the_column


def _by_gid(fig, gid):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == gid]


def _pool_sizes(image_size):
    """{"pool3": (h, w), ...} by running FCN's stages one after the other."""
    x, sizes = torch.zeros(1, 3, image_size, image_size), {}
    with torch.no_grad():
        for i, stage in enumerate(FCN(4).eval().stages):
            x = stage(x)
            sizes[f"pool{i + 1}"] = tuple(x.shape[2:])
    return sizes


@pytest.mark.parametrize(
    "image_size, expected",
    [(64, {"pool5": "2×2", "pool4": "4×4", "pool3": "8×8"}),
     (96, {"pool5": "3×3", "pool4": "6×6", "pool3": "12×12"})],
)  # fmt: skip
def test_pools_show_the_models_sizes_and_strides(image_size, expected):
    sizes = _pool_sizes(image_size)
    fig = fcn_skips(image_size)
    strides = {"pool3": 8, "pool4": 16, "pool5": 32}
    for name, size in expected.items():
        h, w = sizes[name]
        assert size == f"{h}×{w}"  # the literal sizes are the model's
        assert _by_gid(fig, f"8s/{name}") == [f"{name} {size}\nstride {strides[name]}"]
    assert _by_gid(fig, "16s/pool4") == [f"pool4 {expected['pool4']}\nstride 16"]
    assert _by_gid(fig, "32s/pool5") == [f"pool5 {expected['pool5']}\nstride 32"]


def test_each_variant_reads_its_pools_adds_its_skips_and_upsamples_by_its_stride():
    fig = fcn_skips(64, 4)
    adds = {p.get_gid() for p in fig.axes[0].patches if isinstance(p, Circle)}
    assert adds == {"16s/add_pool4", "8s/add_pool4", "8s/add_pool3"}
    for variant, pools in ((32, ["pool5"]), (16, ["pool5", "pool4"]),
                           (8, ["pool5", "pool4", "pool3"])):  # fmt: skip
        shown = [n for n in ("pool5", "pool4", "pool3") if _by_gid(fig, f"{variant}s/{n}")]
        assert shown == pools
        model = FCN(4, stride=variant)
        assert _by_gid(fig, f"{variant}s/final") == [f"×{model.upsample.stride[0]} up"]
        assert model.upsample.stride[0] == variant
        out = model.eval()(torch.zeros(1, 3, 64, 64))
        assert _by_gid(fig, f"{variant}s/output") == [f"scores\n{out.shape[2]}×{out.shape[3]}"
                                                      f"×{out.shape[1]}"]  # fmt: skip
        assert _by_gid(fig, f"{variant}s/name") == [f"FCN-{variant}s"]
    assert _by_gid(fig, "32s/up_pool5") == []
    assert _by_gid(fig, "16s/up_pool5") == ["2× up\n→ 4×4"]
    assert _by_gid(fig, "8s/up_pool4") == ["2× up\n→ 8×8"]
    assert _by_gid(fig, "8s/score_pool3") == ["1×1 conv\n4 classes"]
    assert _by_gid(fig, "8s/score_pool5") == ["conv head\n+ 1×1 conv"]


def test_score_layers_follow_the_number_of_classes():
    fig = fcn_skips(96, 21)
    assert FCN(21).score_pool4.out_channels == 21
    assert _by_gid(fig, "16s/score_pool4") == ["1×1 conv\n21 classes"]
    assert _by_gid(fig, "8s/output") == ["scores\n96×96×21"]
    assert _by_gid(fig, "8s/up_pool4") == ["2× up\n→ 12×12"]


def test_drawing_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    fcn_skips()
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("kwargs", [{}, {"image_size": 96, "num_classes": 21}])
def test_fcn_figure_fits_the_column_with_9_point_text(kwargs):
    fig = fcn_skips(**kwargs)
    assert_fits_the_column(fig, min_texts=20)
