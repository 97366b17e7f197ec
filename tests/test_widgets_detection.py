import math
import re

import pytest
import torch
import torchvision

from cnnbook.boxes import generate_anchors, grid_anchors
from cnnbook.data.scenes import make_scenes
from cnnbook.widgets.detection import (
    anchor_explorer,
    nms_explorer,
    render_anchor_explorer,
    render_nms_explorer,
)

SCENES = make_scenes(12, size=64, seed=3)
IMAGE, TARGETS, TARGET_LABELS = SCENES.images[11], SCENES.boxes[11], SCENES.labels[11]


def raw_detections(per_target: int = 15, seed: int = 0):
    """Boxes jittered around each target, a fifth of them with a wrong class, and random
    scores (so no two tie)."""
    gen = torch.Generator().manual_seed(seed)
    boxes, scores, labels = [], [], []
    for box, label in zip(TARGETS, TARGET_LABELS, strict=True):
        size = (box[2:] - box[:2]).repeat(2)
        boxes.append(box + 0.15 * size * torch.randn(per_target, 4, generator=gen))
        scores.append(torch.rand(per_target, generator=gen))
        wrong = torch.rand(per_target, generator=gen) < 0.2
        labels.append(torch.where(wrong, torch.randint(1, 4, (per_target,), generator=gen), label))
    return torch.cat(boxes), torch.cat(scores), torch.cat(labels)


BOXES, SCORES, LABELS = raw_detections()


def patch_boxes(ax, gid: str) -> torch.Tensor:
    """The pixel-edge boxes of the rectangles tagged `gid`, undoing the half-pixel shift."""
    rects = [p for p in ax.patches if p.get_gid() == gid]
    corners = [
        [r.get_x(), r.get_y(), r.get_x() + r.get_width(), r.get_y() + r.get_height()] for r in rects
    ]
    return torch.tensor(corners).reshape(-1, 4) + 0.5


def kept_in_title(fig) -> int:
    return int(re.search(r"solid: (\d+) kept", fig.axes[1].get_title()).group(1))


def sorted_rows(boxes: torch.Tensor) -> torch.Tensor:
    return torch.tensor(sorted(boxes.tolist()))


@pytest.mark.parametrize("iou_threshold", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("score_threshold", [0.0, 0.3, 0.6])
def test_nms_keeps_what_torchvision_batched_nms_keeps(iou_threshold, score_threshold):
    fig = render_nms_explorer(IMAGE, BOXES, SCORES, LABELS, iou_threshold, score_threshold)
    ax_before, ax_after = fig.axes
    passing = SCORES.ge(score_threshold)
    boxes, scores, labels = BOXES[passing], SCORES[passing], LABELS[passing]
    keep = torchvision.ops.batched_nms(boxes, scores, labels, iou_threshold)
    assert 0 < len(keep) < len(boxes)  # the case is not trivial
    assert kept_in_title(fig) == len(keep)
    assert ax_after.get_title().startswith(f"after NMS (IoU > {iou_threshold:.2f} suppressed)")
    assert ax_before.get_title().startswith(
        f"before NMS: {len(boxes)} boxes, score ≥ {score_threshold:.2f}"
    )
    assert len(patch_boxes(ax_before, "detection")) == len(boxes)
    torch.testing.assert_close(sorted_rows(patch_boxes(ax_after, "kept")), sorted_rows(boxes[keep]))
    assert len(patch_boxes(ax_after, "suppressed")) == len(boxes) - len(keep)
    names = {"circle", "square", "triangle"}
    captions = [t.get_text() for t in ax_after.texts]
    assert len(captions) == len(keep) and all(c.split()[0] in names for c in captions)
    best = int(keep[0])
    assert (
        f"{('circle', 'square', 'triangle')[int(labels[best]) - 1]} {float(scores[best]):.2f}"
        in captions
    )


def test_a_threshold_of_one_keeps_everything():
    fig = render_nms_explorer(IMAGE, BOXES, SCORES, LABELS, iou_threshold=1.0, score_threshold=0.0)
    assert kept_in_title(fig) == len(BOXES)


def test_a_tiny_threshold_keeps_one_box_per_cluster_and_class():
    gen = torch.Generator().manual_seed(1)
    centres = torch.tensor([[10.0, 10.0], [40.0, 12.0], [25.0, 45.0]])
    boxes = torch.cat([c.repeat(6, 2) + torch.tensor([-6.0, -6.0, 6.0, 6.0]) for c in centres])
    boxes = boxes + torch.rand(len(boxes), 4, generator=gen) * 2 - 1
    labels = torch.tensor([1] * 6 + [2] * 6 + [3, 3, 3, 1, 1, 1])  # the third: two classes
    scores = torch.rand(len(boxes), generator=gen)
    fig = render_nms_explorer(IMAGE, boxes, scores, labels, iou_threshold=0.01, score_threshold=0)
    assert kept_in_title(fig) == 4
    names = sorted(t.get_text().split()[0] for t in fig.axes[1].texts)
    assert names == ["circle", "circle", "square", "triangle"]
    assert len(patch_boxes(fig.axes[1], "suppressed")) == len(boxes) - 4


def test_a_score_threshold_above_every_score_keeps_nothing():
    fig = render_nms_explorer(
        IMAGE, BOXES, SCORES, LABELS, score_threshold=float(SCORES.max()) + 0.01
    )
    assert kept_in_title(fig) == 0
    assert fig.axes[0].get_title().startswith("before NMS: 0 boxes")
    assert not fig.axes[1].patches and not fig.axes[1].texts


def test_no_detections_at_all_draws_the_image_alone():
    empty = torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long)
    fig = render_nms_explorer(IMAGE, *empty, targets=TARGETS)
    assert kept_in_title(fig) == 0
    assert len(patch_boxes(fig.axes[1], "target")) == len(TARGETS)


def test_nms_figure_is_labelled_and_shows_the_targets():
    fig = render_nms_explorer(IMAGE, BOXES, SCORES, LABELS, targets=TARGETS)
    for ax in fig.axes:
        assert (
            ax.get_title() and ax.get_xlabel() == "x (pixels)" and ax.get_ylabel() == "y (pixels)"
        )
        torch.testing.assert_close(sorted_rows(patch_boxes(ax, "target")), sorted_rows(TARGETS))
        assert "target" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert fig._suptitle.get_text()


def test_nms_explorer_builds_its_sliders():
    box = nms_explorer(IMAGE, BOXES, SCORES, LABELS, targets=TARGETS)
    sliders = box.children[0].children
    assert [s.description for s in sliders] == ["IoU threshold", "score threshold"]
    assert [(s.value, s.min, s.max, s.step) for s in sliders] == [
        (0.5, 0.05, 0.95, 0.05),
        (0.1, 0.0, 0.95, 0.05),  # the page's figure and text: score threshold 0.1
    ]


def anchor_count_in_suptitle(fig) -> tuple[int, int, int, int]:
    match = re.search(
        r"(\d+) × (\d+) locations × (\d+) anchors = (\d+) anchors", fig._suptitle.get_text()
    )
    return tuple(int(g) for g in match.groups())


@pytest.mark.parametrize(
    ("size", "sizes", "ratios", "stride"),
    [
        (64, (16, 32), (0.5, 1.0, 2.0), 16),
        (64, (8, 16, 32), (1.0,), 8),
        (50, (16,), (0.25, 0.5, 1.0, 2.0, 4.0), 12),  # 50 / 12 is not whole: 5 cells
        (64, (32,), (0.5, 1.0, 2.0), 28),
    ],
)
def test_anchor_count_is_locations_times_anchors_per_location(size, sizes, ratios, stride):
    fig = render_anchor_explorer(torch.rand(3, size, size), sizes, ratios, stride)
    rows = cols = math.ceil(size / stride)
    anchors = grid_anchors(generate_anchors(sizes, ratios), (rows, cols), (stride, stride))
    assert anchor_count_in_suptitle(fig) == (rows, cols, len(sizes) * len(ratios), len(anchors))
    assert len(anchors) == rows * cols * len(sizes) * len(ratios)
    assert len(fig.axes[0].collections[0].get_offsets()) == rows * cols  # the location dots


@pytest.mark.parametrize(
    ("location", "expected"), [(None, (2, 2)), ((0, 3), (0, 3)), ((3, 1), (3, 1))]
)
def test_highlighted_anchors_are_the_base_anchors_moved_to_the_cell_corner(location, expected):
    sizes, ratios, stride = (16, 32), (0.5, 1.0, 2.0), 16
    fig = render_anchor_explorer(IMAGE, sizes, ratios, stride, location=location)
    i, j = expected
    shift = torch.tensor([j * stride, i * stride] * 2, dtype=torch.float32)
    drawn = patch_boxes(fig.axes[0], "anchor")
    torch.testing.assert_close(
        sorted_rows(drawn), sorted_rows(generate_anchors(sizes, ratios) + shift)
    )
    title = fig.axes[0].get_title()
    assert f"location ({i}, {j}) at pixel ({j * stride}, {i * stride})" in title
    assert "top-left corner" in title
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["ratio h/w = 0.5", "ratio h/w = 1", "ratio h/w = 2"]
    colours = {p.get_edgecolor() for p in fig.axes[0].patches if p.get_gid() == "anchor"}
    assert len(colours) == len(ratios)


def independent_anchor_labels(anchors, targets, high=0.7, low=0.3):
    iou = torchvision.ops.box_iou(anchors, targets)
    best = iou.max(dim=1).values
    best_of_target = iou.max(dim=0).values
    positive = (best >= high) | ((iou == best_of_target) & (best_of_target > 0)).any(dim=1)
    negative = (best < low) & ~positive
    return int(positive.sum()), int(negative.sum()), int((~positive & ~negative).sum())


@pytest.mark.parametrize(
    ("sizes", "ratios", "stride"),
    [
        ((16, 32), (0.5, 1.0, 2.0), 16),
        ((8, 16, 32), (0.25, 0.5, 1.0, 2.0, 4.0), 4),
        ((16,), (1.0,), 8),
    ],
)
def test_anchor_labels_match_an_independent_iou_computation(sizes, ratios, stride):
    fig = render_anchor_explorer(IMAGE, sizes, ratios, stride, targets=TARGETS)
    rows, cols, _, total = anchor_count_in_suptitle(fig)
    anchors = grid_anchors(generate_anchors(sizes, ratios), (rows, cols), (stride, stride))
    title = fig.axes[1].get_title()
    counts = tuple(
        int(n) for n in re.search(r"(\d+) positive, (\d+) negative,\s+(\d+) ignored", title).groups()
    )
    assert sum(counts) == total == len(anchors)
    assert counts == independent_anchor_labels(anchors, TARGETS)
    assert counts[0] >= len(TARGETS)  # every target has at least its best anchor
    assert len(patch_boxes(fig.axes[1], "positive")) == counts[0]
    assert len(patch_boxes(fig.axes[1], "ignored")) == counts[2]
    torch.testing.assert_close(
        sorted_rows(patch_boxes(fig.axes[1], "target")), sorted_rows(TARGETS)
    )


def test_anchor_figure_is_labelled():
    for fig in (render_anchor_explorer(IMAGE), render_anchor_explorer(IMAGE, targets=TARGETS)):
        assert fig._suptitle.get_text()
        for ax in fig.axes:
            assert (
                ax.get_title()
                and ax.get_xlabel() == "x (pixels)"
                and ax.get_ylabel() == "y (pixels)"
            )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": ()}, "at least one anchor size"),
        ({"aspect_ratios": []}, "at least one anchor aspect ratio"),
        ({"stride": 0}, "positive number of pixels"),
        ({"location": (8, 0)}, r"off the 8 × 8 grid"),
    ],
)
def test_anchor_explorer_rejects_an_impossible_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        render_anchor_explorer(IMAGE, **kwargs)


def test_anchor_explorer_builds_its_controls():
    box = anchor_explorer(IMAGE, targets=TARGETS)
    sizes, ratios, stride = box.children[0].children
    assert [w.description for w in (sizes, ratios, stride)] == ["sizes", "ratios h/w", "stride"]
    assert sizes.value == (8, 16, 32) and ratios.value == (0.5, 1.0, 2.0)  # the page's state
    assert (stride.value, stride.min, stride.max, stride.step) == (8, 4, 32, 4)
