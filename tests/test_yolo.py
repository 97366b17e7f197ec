"""YOLO v1's targets, loss and decoding, each against a plain loop or a round trip."""

import math

import pytest
import torch
from torch import nn

from cnnbook.boxes import box_iou
from cnnbook.data import make_scenes
from cnnbook.metrics import mean_average_precision
from cnnbook.models.yolo import tiny_yolo
from cnnbook.yolo import (
    cell_boxes_to_corners,
    split_output,
    train_yolo,
    yolo_detect,
    yolo_loss,
    yolo_targets,
)


def test_a_box_lands_in_the_cell_of_its_centre_with_offsets_and_image_fractions():
    target = yolo_targets(torch.tensor([[10.0, 20.0, 30.0, 28.0]]), torch.tensor([2]), 8, 3, 64)
    assert target.shape == (8, 8, 8)
    # centre (20, 24): column 20 // 8 = 2, row 24 // 8 = 3, offsets 0.5 and 0.0
    expected = torch.tensor([0.5, 0.0, 20 / 64, 8 / 64, 1.0, 0.0, 1.0, 0.0])
    assert torch.allclose(target[3, 2], expected)
    assert target.sum() == pytest.approx(float(expected.sum()))


def test_a_centre_on_the_far_edge_belongs_to_the_last_cell():
    target = yolo_targets(torch.tensor([[60.0, 60.0, 64.0, 68.0]]), torch.tensor([1]), 8, 3, 64)
    assert target[7, 7, 4] == 1 and target[7, 7, 1] == pytest.approx(1.0)


def test_one_object_per_cell_the_larger_first_on_ties():
    small, large = [30.0, 30.0, 34.0, 34.0], [28.0, 28.0, 36.0, 36.0]
    for boxes in ([small, large], [large, small]):
        target = yolo_targets(torch.tensor(boxes), torch.tensor([1, 3]), 8, 3, 64)
        assert target[4, 4, 2] == pytest.approx(8 / 64)
    twins = torch.tensor([[30.0, 30.0, 34.0, 34.0], [31.0, 31.0, 35.0, 35.0]])
    target = yolo_targets(twins, torch.tensor([1, 2]), 8, 3, 64)
    assert target[4, 4, 5:].tolist() == [1.0, 0.0, 0.0]


def test_no_boxes_no_targets():
    empty = yolo_targets(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 7, 20, 448)
    assert empty.shape == (7, 7, 25) and not empty.any()


def test_targets_decode_back_to_the_boxes():
    scenes = make_scenes(6, 64, seed=4)
    for boxes, labels in zip(scenes.boxes, scenes.labels, strict=True):
        target = yolo_targets(boxes, labels, 8, 3, 64)[None]
        corners = cell_boxes_to_corners(target[..., None, 0:2], target[..., None, 2:4], 64)
        decoded = corners[0, target[0, ..., 4] > 0, 0]
        centres = ((boxes[:, :2] + boxes[:, 2:]) / 2 // 8).long()
        cells = [tuple(c) for c in centres.tolist()]
        alone = [k for k, cell in enumerate(cells) if cells.count(cell) == 1]
        assert len(alone) >= 1
        for k in alone:  # a box that shares its cell with no other centre comes back whole
            assert box_iou(boxes[k : k + 1], decoded).max() > 0.9999


def _loop_loss(output, targets, b, image_size, coord=5.0, noobj=0.5):
    """The paper's loss written cell by cell, predictor by predictor."""
    total = 0.0
    n, _, s, _ = output.shape
    for k in range(n):
        for i in range(s):
            for j in range(s):
                cell = output[k, :, i, j]
                t = targets[k, i, j]
                preds = [cell[5 * p : 5 * p + 5].sigmoid() for p in range(b)]
                if t[4] == 0:
                    total += noobj * sum(float(p[4]) ** 2 for p in preds)
                    continue
                size = image_size / s

                def corners(v, i=i, j=j, size=size):
                    cx, cy = (j + v[0]) * size, (i + v[1]) * size
                    w, h = v[2] * image_size, v[3] * image_size
                    return torch.tensor([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]])

                ious = [float(box_iou(corners(p), corners(t))) for p in preds]
                r = max(range(b), key=lambda p: (ious[p], -p))
                p = preds[r]
                total += coord * float(((p[:2] - t[:2]) ** 2).sum())
                total += coord * float(((p[2:4].sqrt() - t[2:4].sqrt()) ** 2).sum())
                total += (float(p[4]) - ious[r]) ** 2
                total += noobj * sum(float(q[4]) ** 2 for m, q in enumerate(preds) if m != r)
                total += float(-torch.log_softmax(cell[5 * b :], 0)[int(t[5:].argmax())])
    return total / n


def test_loss_equals_the_paper_written_cell_by_cell():
    gen = torch.Generator().manual_seed(0)
    scenes = make_scenes(3, 32, seed=5)
    targets = torch.stack([yolo_targets(b, lab, 4, 3, 32) for b, lab in zip(scenes.boxes,
                                                                         scenes.labels, strict=True)])  # fmt: skip
    output = torch.randn(3, 2 * 5 + 3, 4, 4, generator=gen)
    assert float(yolo_loss(output, targets, 2, 32)) == pytest.approx(
        _loop_loss(output, targets, 2, 32), rel=1e-5
    )


def test_only_the_responsible_predictor_learns_its_box():
    target = yolo_targets(torch.tensor([[4.0, 4.0, 20.0, 20.0]]), torch.tensor([1]), 2, 3, 32)[None]
    output = torch.zeros(1, 13, 2, 2, requires_grad=True)
    with torch.no_grad():
        output[0, 5:7, 0, 0] = 1.0  # predictor 1 of cell (0, 0) nearly on the box: IoU 0.9
    yolo_loss(output, target, 2, 32).backward()
    grad = output.grad[0, :, 0, 0]
    assert grad[5:9].abs().sum() > 0 and grad[0:4].abs().sum() == 0
    assert grad[4] > 0  # predictor 0's confidence is pushed down


def _output_for(target: torch.Tensor, b: int) -> torch.Tensor:
    """Logits whose sigmoids and softmax reproduce `target` with confidence 0.99."""
    logit = lambda p: torch.log(p / (1 - p))  # noqa: E731
    s, c = target.shape[0], target.shape[-1] - 5
    out = torch.full((b * 5 + c, s, s), -12.0)
    box = target[..., :4].clamp(1e-4, 1 - 1e-4).permute(2, 0, 1)
    out[0:4] = logit(box)
    out[4] = torch.where(target[..., 4] > 0, logit(torch.tensor(0.99)), -12.0)
    out[5 * b :] = target[..., 5:].permute(2, 0, 1) * 20
    return out


class _Fixed(nn.Module):
    def __init__(self, outputs: torch.Tensor):
        super().__init__()
        self.outputs = nn.Parameter(outputs, requires_grad=False)

    def forward(self, x):
        return self.outputs[: len(x)]


def test_detecting_from_perfect_outputs_gives_map_one():
    scenes = make_scenes(8, 64, seed=6)
    targets = [yolo_targets(b, lab, 8, 3, 64) for b, lab in zip(scenes.boxes, scenes.labels, strict=True)]
    model = _Fixed(torch.stack([_output_for(t, 2) for t in targets]))
    detections = yolo_detect(model, scenes.images, 2)
    kept = [
        {"boxes": t[t[..., 4] > 0][:, :4], "labels": t[t[..., 4] > 0][:, 5:].argmax(1) + 1}
        for t in targets
    ]
    truth = [
        {"boxes": cell_boxes_to_corners(t[None, ..., None, :2], t[None, ..., None, 2:4], 64)[
            0, t[..., 4] > 0, 0], "labels": k["labels"]}
        for t, k in zip(targets, kept, strict=True)
    ]  # fmt: skip
    assert mean_average_precision(detections, truth)[0] == pytest.approx(1.0)
    raw = yolo_detect(model, scenes.images, 2, iou_threshold=None)
    assert sum(len(d["boxes"]) for d in raw) >= sum(len(d["boxes"]) for d in detections)


def test_split_output_shapes_and_ranges():
    with torch.no_grad():
        out = tiny_yolo()(torch.rand(2, 3, 64, 64))
    assert out.shape == (2, 13, 8, 8)
    parts = split_output(out, 2)
    assert parts.xy.shape == (2, 8, 8, 2, 2) and parts.class_logits.shape == (2, 8, 8, 3)
    assert float(parts.wh.min()) > 0 and float(parts.confidence.max()) < 1


def test_a_short_training_run_learns_something():
    torch.manual_seed(0)
    train, held_out = make_scenes(96, 32, seed=7), make_scenes(16, 32, seed=8)
    targets = torch.stack([yolo_targets(b, lab, 4, 3, 32) for b, lab in zip(train.boxes,
                                                                        train.labels, strict=True)])  # fmt: skip
    truth = [{"boxes": b, "labels": lab} for b, lab in zip(held_out.boxes, held_out.labels, strict=True)]
    history = train_yolo(tiny_yolo(widths=(8, 8, 16, 16)), train.images, targets,
                         held_out.images, truth, 2, 3, "cpu", progress=False)  # fmt: skip
    assert history.train_loss[-1] < history.train_loss[0]
    assert len(history.map50) == 3 and all(0 <= m <= 1 for m in history.map50)
    assert not math.isnan(history.seconds)
