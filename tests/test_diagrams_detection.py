"""Chapter 8's diagrams: the R-CNN family coloured by what runs per region, the RPN head
with the channels its layers have, and YOLO's grid with the depth tiny_yolo outputs."""

import matplotlib
import pytest
import torch
from matplotlib.colors import to_hex
from matplotlib.patches import Circle, Rectangle
from torch import nn

matplotlib.use("Agg")

from cnnbook.diagrams.detection import (
    detector_pipelines,
    rpn_head,
    rpn_layers,
    yolo_grid,
    yolo_layout,
)
from cnnbook.diagrams.shapes import COLORS
from cnnbook.models.two_stage import TwoStageDetector
from cnnbook.models.yolo import tiny_yolo
from cnnbook.yolo import split_output
from conftest import assert_fits_the_column


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def _by_gid(fig, gid):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == gid]


def _patch(fig, gid):
    (patch,) = [p for p in fig.axes[0].patches if p.get_gid() == gid]
    return patch


def test_pipelines_show_each_detectors_steps():
    fig = detector_pipelines()
    rows = {name: _by_gid(fig, f"{name}/name") for name in ("R-CNN", "Fast R-CNN", "Faster R-CNN")}
    assert rows == {
        "R-CNN": ["R-CNN"],
        "Fast R-CNN": ["Fast R-CNN"],
        "Faster R-CNN": ["Faster R-CNN"],
    }
    assert _by_gid(fig, "R-CNN/proposals") == ["selective search:\n~2,000 proposals"]
    assert _by_gid(fig, "R-CNN/warp") == ["warp each\nto 227×227"]
    assert _by_gid(fig, "R-CNN/cnn") == ["CNN\nper region"]
    assert _by_gid(fig, "R-CNN/output") == ["SVMs +\nbox regression"]
    assert _by_gid(fig, "Fast R-CNN/cnn") == ["CNN\nonce"]
    assert _by_gid(fig, "Fast R-CNN/roi") == ["RoI\npooling"]
    assert _by_gid(fig, "Fast R-CNN/output") == ["softmax +\nbox regression"]
    assert _by_gid(fig, "Faster R-CNN/rpn") == ["RPN"]
    assert _by_gid(fig, "Fast R-CNN/rpn") == [] and _by_gid(fig, "Faster R-CNN/warp") == []


def test_pipelines_are_coloured_by_what_runs_per_region():
    fig = detector_pipelines()
    once, per_region, data = COLORS["conv"], COLORS["pool"], COLORS["input"]
    expected = {
        "R-CNN": {"image": data, "proposals": once, "warp": per_region, "cnn": per_region,
                  "output": per_region},
        "Fast R-CNN": {"cnn": once, "features": data, "proposals": once, "roi": per_region,
                       "head": per_region, "output": per_region},
        "Faster R-CNN": {"cnn": once, "rpn": once, "proposals": data, "roi": per_region,
                         "head": per_region},
    }  # fmt: skip
    for row, colours in expected.items():
        for key, colour in colours.items():
            assert to_hex(_patch(fig, f"{row}/{key}").get_facecolor()) == colour, (row, key)
    legend = {t.get_gid(): t.get_text() for t in fig.axes[0].texts
              if (t.get_gid() or "").startswith("legend/")}  # fmt: skip
    assert legend == {"legend/data": "data", "legend/image": "runs once per image",
                      "legend/region": "runs once per region"}  # fmt: skip
    assert to_hex(_patch(fig, "legend/region").get_facecolor()) == per_region
    assert to_hex(_patch(fig, "legend/image").get_facecolor()) == once


def test_the_rpn_reads_the_feature_map_under_it_and_feeds_roi_pooling():
    fig = detector_pipelines()
    features, rpn = _patch(fig, "Faster R-CNN/features"), _patch(fig, "Faster R-CNN/rpn")
    proposals, roi = _patch(fig, "Faster R-CNN/proposals"), _patch(fig, "Faster R-CNN/roi")
    assert rpn.get_x() == pytest.approx(features.get_x()) and rpn.get_y() < features.get_y()
    assert proposals.get_x() == pytest.approx(roi.get_x()) and proposals.get_y() < roi.get_y()


@pytest.mark.parametrize("anchors, scores, offsets", [(9, "18 = 9 × 2", "36 = 9 × 4"),
                                                      (3, "6 = 3 × 2", "12 = 3 × 4")])  # fmt: skip
def test_rpn_head_shows_the_channels_of_its_layers(anchors, scores, offsets):
    layers = rpn_layers(256, anchors)
    with torch.no_grad():
        hidden = layers["conv"](torch.zeros(1, 256, 5, 7))
        n_scores = layers["objectness"](hidden).shape[1]
        n_offsets = layers["box_offsets"](hidden).shape[1]
    assert (n_scores, n_offsets) == (int(scores.split(" =")[0]), int(offsets.split(" =")[0]))
    fig = rpn_head(256, anchors)
    assert _by_gid(fig, "rpn/cls") == [f"1×1 conv\n{scores}\nobjectness scores"]
    assert _by_gid(fig, "rpn/reg") == [f"1×1 conv\n{offsets}\nbox offsets"]
    assert _by_gid(fig, "rpn/conv") == ["3×3 conv, 256\n+ ReLU"]
    assert _by_gid(fig, "anchors/title") == [f"{anchors} anchors at one position"]


def test_rpn_head_is_the_chapters_two_stage_detectors():
    detector = TwoStageDetector(nn.Identity(), 256, num_classes=3)  # 3 sizes x 3 ratios
    assert len(detector.cell_anchors) == 9
    fig = rpn_head(256, len(detector.cell_anchors))
    scores, offsets = detector.rpn_scores.out_channels, detector.rpn_offsets.out_channels
    assert _by_gid(fig, "rpn/cls")[0].split("\n")[1] == f"{scores} = 9 × 2"
    assert _by_gid(fig, "rpn/reg")[0].split("\n")[1] == f"{offsets} = 9 × 4"
    for name, layer in rpn_layers(256, 9).items():
        theirs = {"conv": detector.rpn_conv, "objectness": detector.rpn_scores,
                  "box_offsets": detector.rpn_offsets}[name]  # fmt: skip
        assert repr(layer) == repr(theirs)
    # the anchors drawn are the detector's with the paper's sizes, up to one scale
    paper = TwoStageDetector(nn.Identity(), 256, num_classes=3, sizes=(128, 256, 512))
    drawn = [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("anchor:")]
    sizes = torch.tensor([[p.get_width(), p.get_height()] for p in drawn])
    theirs = paper.cell_anchors[:, 2:] - paper.cell_anchors[:, :2]
    ratio = sizes / theirs
    assert torch.allclose(ratio, ratio[0, 0].expand_as(ratio), rtol=1e-4)


def test_rpn_head_follows_the_feature_maps_channels():
    fig = rpn_head(in_channels=512)
    assert "feature map\nH × W × 512" in _texts(fig)
    assert _by_gid(fig, "rpn/conv") == ["3×3 conv, 512\n+ ReLU"]
    assert rpn_layers(512)["conv"].out_channels == 512


def test_the_nine_anchors_are_three_sizes_by_three_ratios_at_one_position():
    fig = rpn_head()
    anchors = [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("anchor:")]
    assert len(anchors) == 9
    centres = {(round(p.get_x() + p.get_width() / 2, 6), round(p.get_y() + p.get_height() / 2, 6))
               for p in anchors}  # fmt: skip
    assert len(centres) == 1
    ratios = {round(p.get_height() / p.get_width(), 1) for p in anchors}
    assert ratios == {0.5, 1.0, 2.0}
    areas = sorted(p.get_width() * p.get_height() for p in anchors)
    assert areas[2] / areas[0] == pytest.approx(1, rel=0.02)  # same size, different ratios
    assert areas[3] / areas[2] == pytest.approx(4, rel=0.02)  # sizes double: areas x4
    assert areas[6] / areas[3] == pytest.approx(4, rel=0.02)
    assert _by_gid(fig, "anchors/caption") == [
        "3 sizes (128, 256, 512 px, by colour)\n× 3 ratios h:w (1:2, 1:1, 2:1)"
    ]


@pytest.mark.parametrize("boxes, classes", [(2, 3), (1, 20), (3, 5)])
def test_yolo_depth_is_the_models_output_depth(boxes, classes):
    output = tiny_yolo(boxes, classes)(torch.zeros(1, 3, 64, 64))
    depth, grid = output.shape[1], output.shape[2]
    parts = split_output(output, boxes)
    assert parts.confidence.shape[-1] == boxes and parts.class_logits.shape[-1] == classes
    fig = yolo_grid(8, boxes, classes, 64)
    assert _by_gid(fig, "tensor/title") == [
        f"output {grid} × {grid} × {depth}:\n{depth} = {boxes} × 5 + {classes}  (B × 5 + C)"
    ]
    vector = [p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("vector:")]
    assert len(vector) == depth
    groups = _by_gid(fig, "vector/group")
    assert groups == [f"box {b + 1}" for b in range(boxes)] + [f"{classes} class scores"]
    assert yolo_layout(8, boxes, classes, 64) == {"S": 8, "B": boxes, "C": classes,
                                                   "per_box": 5, "depth": depth}  # fmt: skip


def test_yolo_vector_spells_out_each_box_and_the_class_scores():
    fig = yolo_grid()
    labels = [t for t in _texts(fig) if t in ("$x$", "$y$", "$w$", "$h$", "conf")]
    assert labels == ["$x$", "$y$", "$w$", "$h$", "conf"] * 2
    assert [f"$p_{{{c}}}$" in _texts(fig) for c in (1, 2, 3)] == [True] * 3


def test_the_objects_centre_lies_in_the_responsible_cell():
    fig = yolo_grid()
    cell = _patch(fig, "responsible")
    (centre,) = [
        p for p in fig.axes[0].patches if isinstance(p, Circle) and p.get_gid() == "centre"
    ]
    x, y = centre.center
    assert cell.get_x() <= x < cell.get_x() + cell.get_width()
    assert cell.get_y() <= y < cell.get_y() + cell.get_height()
    assert to_hex(cell.get_facecolor()) == COLORS["highlight"]
    # the caption names that cell, counted from the top left as in yolo_targets
    cells = [
        p
        for p in fig.axes[0].patches
        if isinstance(p, Rectangle) and p.get_width() == cell.get_width()
    ]
    left, top = min(p.get_x() for p in cells), max(p.get_y() + p.get_height() for p in cells)
    row = round((top - cell.get_y() - cell.get_height()) / cell.get_height())
    col = round((cell.get_x() - left) / cell.get_width())
    assert f"cell ({row}, {col})" in _by_gid(fig, "image/title")[0]


def test_yolo_grid_must_match_the_networks_grid():
    with pytest.raises(ValueError, match="8 × 8 grid, not 7 × 7"):
        yolo_grid(grid_size=7)
    assert _by_gid(yolo_grid(grid_size=12, image_size=96), "tensor/title")[0].startswith(
        "output 12 × 12 × 13"
    )


def test_drawing_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    rpn_head()
    yolo_grid()
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize(
    "draw, kwargs",
    [(detector_pipelines, {}), (rpn_head, {}), (rpn_head, {"num_anchors": 3}), (yolo_grid, {}),
     (yolo_grid, {"boxes_per_cell": 3, "num_classes": 20})],
)  # fmt: skip
def test_detection_figures_fit_the_column_with_9_point_text(draw, kwargs):
    fig = draw(**kwargs)
    assert_fits_the_column(fig, min_texts=5)
