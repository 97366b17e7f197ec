"""Chapter 8's grading spec: its references against torchvision and torchmetrics, the
course package's implementations against every case, and wrong or hostile submissions.

`test_grading_chapters.py` already checks that the solutions get 18 points and the blank
exercises zero."""

import math
import warnings

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import box_iou as tv_box_iou
from torchvision.ops import nms as tv_nms

from cnnbook import boxes, metrics, yolo
from cnnbook.grading.chapters import ch08
from cnnbook.grading.checks import PUBLIC_SEED, report, run_cases
from cnnbook.grading.engine.grader import grade_folder
from cnnbook.grading.engine.sandbox import Limits
from conftest import ROOT, solution_with

EXERCISES = {ex.name: ex for ex in ch08.EXERCISES}
SEEDS = [PUBLIC_SEED, 2024]
SOLUTIONS = ROOT / "solutions" / "08-detection.ipynb"


def test_points_per_exercise():
    assert {name: ex.points for name, ex in EXERCISES.items()} == {
        "box_iou": 1, "nms": 2, "generate_anchors": 1, "encode_boxes": 1, "decode_boxes": 1,
        "roi_pool": 2, "spatial_pyramid_pool": 1, "yolo_targets": 2, "average_precision": 2,
        "batched_nms": 1, "label_anchors": 2, "yolo_loss": 2,
    }  # fmt: skip
    assert sum(ex.points for ex in ch08.EXERCISES) == 18


# The references


@pytest.mark.parametrize("seed", [*SEEDS, 1, 2, 3])
def test_nms_reference_equals_torchvision_where_no_scores_tie(seed):
    compared = 0
    for case in EXERCISES["nms"].cases(seed):
        candidates, scores, threshold = case.args
        if len(set(scores.tolist())) < len(scores):
            continue  # torchvision promises no order among equal scores
        assert torch.equal(case.expected, tv_nms(candidates, scores, threshold)), case.description
        compared += 1
    assert compared >= 9


def test_nms_cases_pin_the_conventions():
    cases = {c.description.split(":")[0]: c for c in EXERCISES["nms"].cases(PUBLIC_SEED)}
    exact = cases["IoU exactly at the threshold (kept, as suppression needs IoU > threshold)"]
    assert float(tv_box_iou(exact.args[0][:1], exact.args[0][1:])) == 0.5
    assert exact.expected.tolist() == [0, 1]
    assert cases["tied scores (equal scores keep their input order)"].expected.tolist() == [0, 2]
    empty = cases["no boxes (an empty int64 tensor)"].expected
    assert empty.shape == (0,) and empty.dtype == torch.long


@pytest.mark.parametrize("seed", SEEDS)
def test_box_iou_references_are_defined_and_equal_a_plain_loop(seed):
    """torchvision's IoU on the edge cases (empty sets, touching and zero-area boxes) is
    what the statement promises, with no 0/0 anywhere."""
    for case in EXERCISES["box_iou"].cases(seed):
        a, b = case.args
        assert torch.isfinite(case.expected).all()
        loop = [[ch08._iou(p, q) for q in b.tolist()] for p in a.tolist()]
        expected = torch.tensor(loop, dtype=torch.float32).reshape(len(a), len(b))
        torch.testing.assert_close(case.expected, expected, msg=case.description)


def test_anchor_references_follow_torchvisions_conventions():
    cases = {c.args: c.expected for c in EXERCISES["generate_anchors"].cases(PUBLIC_SEED)}
    halves = cases[((5, 7, 9), (1.0,))]  # half-widths 2.5, 3.5, 4.5: to the even integer
    assert halves[:, 2].tolist() == [2.0, 4.0, 4.0] and halves[:, 0].tolist() == [-2, -4, -4]
    standard = cases[((32, 64, 128), (0.5, 1.0, 2.0))]
    widths, heights = standard[:, 2] - standard[:, 0], standard[:, 3] - standard[:, 1]
    assert (widths[:3] > heights[:3]).all() and (widths[6:] < heights[6:]).all()  # h / w


def test_the_decoding_cases_reach_the_clamp():
    clamped = 0
    for case in EXERCISES["decode_boxes"].cases(PUBLIC_SEED):
        codes, anchors = case.args
        size_weights = torch.tensor(case.kwargs.get("weights", (1.0,) * 4)[2:])
        over = codes[:, 2:] / size_weights > boxes.SIZE_CLIP
        if over.any():
            clamped += int(over.sum())
            k, axis = (int(i) for i in over.nonzero()[0])
            anchor_size = anchors[k, 2 + axis] - anchors[k, axis]
            decoded_size = case.expected[k, 2 + axis] - case.expected[k, axis]
            assert torch.isclose(decoded_size, anchor_size * 62.5)
    assert clamped >= 4


def test_roi_cases_make_the_rounding_matter():
    """A roi_pool that rounds with torch.round (halves to even) fails the halves case."""

    def rounds_to_even(features, rois, output_size, spatial_scale=1.0):
        rois = rois.clone()
        rois[:, 1:] = torch.round(rois[:, 1:] * spatial_scale) / spatial_scale + 0.0
        return boxes.roi_pool(features, rois, output_size, spatial_scale)

    result = run_cases(EXERCISES["roi_pool"], rounds_to_even)
    assert any("halves rounded away from zero" in f for f in result.failures), report(result)


def test_yolo_reference_on_a_box_worked_by_hand():
    case = EXERCISES["yolo_targets"].cases(PUBLIC_SEED)[0]  # box (100, 150, 220, 300), label 12
    target = case.expected
    assert target.shape == (7, 7, 25) and target.dtype == torch.float32
    # centre (160, 225) in cells of 64 pixels: row 3, column 2
    expected = [0.5, 225 / 64 - 3, 120 / 448, 150 / 448, 1.0] + [0.0] * 20
    expected[5 + 11] = 1.0
    torch.testing.assert_close(target[3, 2], torch.tensor(expected))
    assert target.count_nonzero() == 6


def test_yolo_references_on_the_conventions():
    cases = {c.description.split(":")[0]: c.expected for c in
             EXERCISES["yolo_targets"].cases(PUBLIC_SEED)}  # fmt: skip
    equal = cases["two centres in one cell with equal areas (the first stays)"]
    assert equal[1, 1, 5 + 3] == 1 and equal[1, 1, 5 + 8] == 0
    edge = cases["centres on the image's right and bottom edges (clamped to the last cell)"]
    assert edge[1, 6, 0] == 1.0 and edge[6, 3, 1] == 1.0 and edge[6, 6, 4] == 1.0
    zero = cases["a zero-area box alone in its cell, and one sharing a cell with a larger box"]
    assert zero[3, 3, 4] == 1.0 and zero[3, 3, 2] == 0.0 and zero[0, 0, 2] == 25 / 448
    assert cases["no boxes"].count_nonzero() == 0


def test_ap_reference_on_a_hand_checked_curve():
    # 4 targets; by score: hit, miss, hit, hit, miss -> recall .25 .25 .5 .75 .75
    scores, hits = [0.9, 0.8, 0.7, 0.6, 0.5], [True, False, True, True, False]
    assert ch08._ap_reference(scores, hits, 4, "all") == pytest.approx(0.25 + 0.5 * 0.75)
    assert ch08._ap_reference(scores, hits, 4, "voc11") == pytest.approx((3 + 5 * 0.75) / 11)
    assert ch08._ap_reference(scores, hits, 4, "coco") == pytest.approx((26 + 50 * 0.75) / 101)


def test_ap_tie_case_depends_on_the_order_of_ties():
    """Were equal scores taken in another order, the tie case would have another AP."""
    for case in EXERCISES["average_precision"].cases(PUBLIC_SEED):
        if case.description.startswith("tied scores"):
            scores, hits, targets = case.args
            method = case.kwargs.get("method", "coco")
            flipped = ch08._ap_reference(
                scores.tolist()[::-1], hits.tolist()[::-1], targets, method
            )
            assert abs(flipped - case.expected) > 1e-3, case.description


@pytest.mark.parametrize("seed", range(4))
def test_ap_reference_equals_torchmetrics_with_pycocotools(seed):
    """One class over several images: predicted boxes either equal a target (a hit) or lie
    far from every target (a miss), so the matching is unambiguous and COCO's AP at
    IoU 0.5 must equal the reference on (scores, hits, number of targets)."""
    from torchmetrics.detection import MeanAveragePrecision

    gen = torch.Generator().manual_seed(seed)
    predictions, targets, all_scores, all_hits = [], [], [], []
    scores = torch.randperm(1000, generator=gen)[:60].float() / 1000  # distinct
    used = 0
    for image in range(5):
        count = int(torch.randint(1, 6, (1,), generator=gen))
        truth = torch.tensor([[40.0 * k, 10.0 * image, 40.0 * k + 30, 10.0 * image + 8]
                              for k in range(count)])  # fmt: skip
        found = torch.rand(count, generator=gen) < 0.6
        misses = int(torch.randint(0, 4, (1,), generator=gen))
        far = torch.tensor([[500.0 + 40 * k, 500, 530 + 40 * k, 530] for k in range(misses)])
        predicted = torch.cat([truth[found], far.reshape(-1, 4)])
        mine = scores[used : used + len(predicted)]
        used += len(predicted)
        predictions.append({"boxes": predicted, "scores": mine,
                            "labels": torch.ones(len(predicted), dtype=torch.long)})  # fmt: skip
        targets.append({"boxes": truth, "labels": torch.ones(count, dtype=torch.long)})
        all_scores += mine.tolist()
        all_hits += [True] * int(found.sum()) + [False] * misses
    levels = (np.arange(101) * 0.01).tolist()
    levels[-1] = 1.0
    metric = MeanAveragePrecision(iou_thresholds=[0.5], rec_thresholds=levels)
    metric.update(predictions, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = float(metric.compute()["map"])
    num_targets = sum(len(t["boxes"]) for t in targets)
    ours = ch08._ap_reference(all_scores, all_hits, num_targets, "coco")
    assert ours == pytest.approx(reference, abs=1e-6)


# The course package passes every case


def _package_function(name):
    if name == "yolo_targets":
        return yolo.yolo_targets
    if name == "yolo_loss":  # the IoU does not depend on the image's size
        return lambda output, targets, b, **kw: yolo.yolo_loss(output, targets, b, 64, **kw)
    if name == "batched_nms":
        return boxes.class_wise_nms
    return getattr(metrics if name == "average_precision" else boxes, name)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_package_passes_every_case(name, seed):
    result = run_cases(EXERCISES[name], _package_function(name), seed)
    assert result.ok, report(result)


# Wrong answers in the self-check


def test_an_nms_that_suppresses_at_the_threshold_is_told_which_case():
    def nms(candidates, scores, iou_threshold):
        order = torch.sort(scores, descending=True, stable=True).indices.tolist()
        iou = boxes.box_iou(candidates, candidates)
        keep = []
        for i in order:
            if all(iou[i, k] < iou_threshold for k in keep):  # suppresses IoU == threshold
                keep.append(i)
        return torch.tensor(keep, dtype=torch.long)

    result = run_cases(EXERCISES["nms"], nms)
    assert 0 < result.passed < result.total
    assert any("IoU exactly at the threshold" in f and "shape (1,), expected (2,)" in f
               for f in result.failures), report(result)  # fmt: skip


def test_an_ap_that_returns_numpy_or_crashes_on_no_detections_gets_reasons():
    def numpy_ap(scores, hits, num_targets, method="coco"):
        return np.float64(metrics.average_precision(scores, hits, num_targets, method))

    result = run_cases(EXERCISES["average_precision"], numpy_ap)
    assert result.passed == 0 and "expected a Python float, got float64" in result.failures[0]

    def no_empty(scores, hits, num_targets, method="coco"):
        scores.max()  # fails on no detections
        return metrics.average_precision(scores, hits, num_targets, method)

    result = run_cases(EXERCISES["average_precision"], no_empty)
    assert result.total - result.passed == 3
    assert all("no detections" in f and "raised RuntimeError" in f for f in result.failures)


# Wrong and hostile submissions in the grader

LIMITS = Limits(timeout=20.0, memory_bytes=2 * 2**30, cpu_seconds=120)

WRONG = {
    "nms": "def nms(boxes, scores, iou_threshold):\n"
    "    order = torch.sort(scores, descending=True, stable=True).indices\n"
    "    iou = box_iou(boxes, boxes)\n"
    "    removed = torch.zeros(len(boxes), dtype=torch.bool)\n"
    "    keep = []\n"
    "    for i in order.tolist():\n"
    "        if not removed[i]:\n"
    "            keep.append(i)\n"
    "            removed |= iou[i] >= iou_threshold\n"
    "    return torch.tensor(keep, dtype=torch.long)",
    "generate_anchors": "def generate_anchors(sizes, aspect_ratios):\n    return [[0, 0, 1, 1]]",
    "yolo_targets": "def yolo_targets(boxes, labels, grid_size, num_classes, image_size):\n"
    "    return torch.zeros(grid_size, grid_size, 5 + num_classes, dtype=torch.float64)",
    "average_precision": "def average_precision(scores, hits, num_targets, method='coco'):\n"
    "    return torch.tensor([0.5, 0.5])",
}
CHEATS = {
    "box_iou": "def box_iou(a, b):\n"
    "    from torchvision.ops import box_iou as overlap\n"
    "    return overlap(a, b)",
    "nms": "import torchvision\n"
    "def nms(boxes, scores, iou_threshold):\n"
    "    return torchvision.ops.nms(boxes, scores, iou_threshold)",
    "roi_pool": "def roi_pool(features, rois, output_size, spatial_scale=1.0):\n"
    "    library = __import__('torch' + 'vision')\n"
    "    pool = getattr(library.ops, 'roi' + '_pool')\n"
    "    return pool(features, rois, output_size, spatial_scale)",
    "batched_nms": "from torchvision.ops import boxes as ops\n"
    "def batched_nms(boxes, scores, idxs, iou_threshold):\n"
    "    return ops.batched_nms(boxes, scores, idxs, iou_threshold)",
    "spatial_pyramid_pool": "import torch.nn.functional as F\n"
    "def spatial_pyramid_pool(features, levels=(1, 2, 4)):\n"
    "    pool = getattr(F, 'adaptive_max' + '_pool2d')\n"
    "    return torch.cat([pool(features, n).flatten(1) for n in levels], dim=1)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    nbformat.write(solution_with(SOLUTIONS, WRONG), folder / "wrong_08-detection.ipynb")
    nbformat.write(solution_with(SOLUTIONS, CHEATS), folder / "cheater_08-detection.ipynb")
    out = tmp_path_factory.mktemp("grades")
    rows = grade_folder(folder, "08", out, jobs=1, limits=LIMITS, log=lambda _: None)
    return {row["student"]: row for row in rows}, out


def _feedback(graded, student):
    return (graded[1] / "feedback" / f"{student}.md").read_text()


def test_wrong_answers_lose_their_points_with_a_reason(graded):
    rows, _ = graded
    row = rows["wrong"]
    assert row["status"] == "graded"
    assert 18 - 2 - 1 - 2 - 2 < row["total"] < 18 - 1 - 2 - 2  # part of nms is right
    text = _feedback(graded, "wrong")
    assert "IoU exactly at the threshold" in text
    assert "expected a torch.Tensor, got list" in text
    assert "dtype torch.float64, expected torch.float32" in text
    assert "expected a Python float, got Tensor" in text


def test_library_calls_are_refused_and_the_rest_is_graded(graded):
    rows, _ = graded
    row = rows["cheater"]
    assert row["status"] == "graded"
    # yolo_targets, AP, the coders and the YOLO loss intact; label_anchors calls the
    # cheating box_iou, so it reaches torchvision too
    assert row["total"] == 18 - 1 - 2 - 2 - 1 - 1 - 2
    text = _feedback(graded, "cheater")
    assert "Uses box_iou, torchvision, which" in text
    assert "Uses nms, which" in text
    assert "the grader does not import `torchvision`" in text  # the top-level import
    assert "Dispatches aten::adaptive_max_pool2d, which" in text
    # torchvision imported under a name built at run time registers its kernels over the
    # watch's: scored as tampering (or, where the sandbox cannot load it, an ImportError)
    roi_section = text.split("`roi_pool`")[1].split("##")[0]
    assert row["roi_pool"] == 0
    assert ("Tampers with the grader's operator watch (a kernel for torchvision::roi_pool"
            in roi_section or "raised" in roi_section), roi_section  # fmt: skip


def test_the_reference_ignores_floating_point_order():
    """A solution computing in float64 and rounding at the end agrees on every case."""

    def iou64(a, b):
        return boxes.box_iou(a.double(), b.double()).float()

    def nms64(candidates, scores, iou_threshold):
        return boxes.nms(candidates.double(), scores, iou_threshold)

    for name, fn in (("box_iou", iou64), ("nms", nms64)):
        for seed in range(5):
            result = run_cases(EXERCISES[name], fn, seed)
            assert result.ok, report(result)
    assert math.isclose(boxes.SIZE_CLIP, math.log(1000 / 16))


def test_an_nms_ordered_by_an_unstable_sort_fails_the_tied_case():
    """`argsort(-scores)` keeps ties in input order on a few boxes, by luck: past about 100
    elements PyTorch's default CPU sort is not stable, and the 200-box tied case shows it."""

    def nms(candidates, scores, iou_threshold):
        iou = boxes.box_iou(candidates, candidates)
        removed = torch.zeros(len(candidates), dtype=torch.bool)
        keep = []
        for i in torch.argsort(-scores).tolist():
            if not removed[i]:
                keep.append(i)
                removed |= iou[i] > iou_threshold
        return torch.tensor(keep, dtype=torch.long)

    result = run_cases(EXERCISES["nms"], nms)
    assert result.passed == result.total - 1, report(result)
    assert "exact ties" in result.failures[0]


def test_an_iou_that_clamps_the_product_fails_on_inverted_boxes():
    """Two negative sides multiply to a positive area: the spec's clamp is per side."""

    def box_iou(a, b):
        lt = torch.max(a[:, None, :2], b[None, :, :2])
        rb = torch.min(a[:, None, 2:], b[None, :, 2:])
        inter = ((rb - lt)[..., 0] * (rb - lt)[..., 1]).clamp(min=0)
        area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
        area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
        return inter / (area_a[:, None] + area_b[None] - inter)

    result = run_cases(EXERCISES["box_iou"], box_iou)
    assert any("x1 < x0" in f for f in result.failures), report(result)


# The exercises that teach the central ideas: class-wise NMS, anchor labels, the YOLO loss


@pytest.mark.parametrize("seed", [*SEEDS, 1, 2])
def test_batched_nms_reference_equals_torchvision_where_no_scores_tie(seed):
    from torchvision.ops import batched_nms

    compared = 0
    for case in EXERCISES["batched_nms"].cases(seed):
        candidates, scores, idxs, threshold = case.args
        if len(set(scores.tolist())) < len(scores):
            continue
        expected = batched_nms(candidates, scores, idxs, threshold)
        assert torch.equal(case.expected, expected), case.description
        compared += 1
    assert compared >= 6


def _torchvision_labels(anchors, targets, positive, negative):
    """The RPN's labels as torchvision assigns them (`Matcher` with low-quality matches,
    then `RegionProposalNetwork.assign_targets_to_anchors`)."""
    from torchvision.models.detection._utils import Matcher

    matcher = Matcher(positive, negative, allow_low_quality_matches=True)
    matched = matcher(tv_box_iou(targets, anchors))
    labels = (matched >= 0).long()
    labels[matched == Matcher.BETWEEN_THRESHOLDS] = -1
    return labels


@pytest.mark.parametrize("seed", [*SEEDS, 1, 2])
def test_anchor_label_reference_equals_torchvisions_matcher(seed):
    """Wherever each object overlaps some anchor: torchvision's Matcher also makes every
    anchor at IoU 0 with an object that overlaps none a positive (its best IoU, 0, is
    "reached"), which the statement excludes."""
    compared = 0
    for case in EXERCISES["label_anchors"].cases(seed):
        anchors, targets = case.args
        if len(anchors) == 0 or len(targets) == 0:
            continue
        if (tv_box_iou(anchors, targets).max(dim=0).values == 0).any():
            continue
        positive = case.kwargs.get("positive_iou", 0.7)
        negative = case.kwargs.get("negative_iou", 0.3)
        expected = _torchvision_labels(anchors, targets, positive, negative)
        assert torch.equal(case.expected, expected), case.description
        compared += 1
    assert compared >= 7


def test_anchor_label_cases_pin_the_rules():
    cases = {c.description.split(":")[0]: c.expected.tolist()
             for c in EXERCISES["label_anchors"].cases(PUBLIC_SEED)}  # fmt: skip
    assert cases["an object every anchor misses by IoU 0.7"] == [0, 0, 0, 0, 1]
    assert cases["three anchors tied for an object's best IoU"] == [1, 1, 0, 0, 1]
    exact = next(v for k, v in cases.items() if k.startswith("IoU exactly 0.5 and 0.25"))
    assert exact == [1, 1, -1, 1]  # IoUs 1, 0.5, 0.25, 0.8
    assert cases["an object no anchor overlaps (no anchor is made positive for it)"] == [
        1, 0, 0, 0, 0,
    ]  # fmt: skip


def _class_by_class(b, s, i, t):
    """NMS per class, the classes' results one after the other: not by score."""
    kept = [torch.zeros(0, dtype=torch.long)]
    for c in i.unique().tolist():
        kept.append(torch.nonzero(i == c).flatten()[boxes.nms(b[i == c], s[i == c], t)])
    return torch.cat(kept)


WRONG_NMS = {
    "ignores the classes": lambda b, s, i, t: boxes.nms(b, s, t),
    "shifts each class by 1000": lambda b, s, i, t: boxes.nms(b + 1000.0 * i[:, None], s, t),
    "leaves the classes in their own order": _class_by_class,
}


@pytest.mark.parametrize("wrong", list(WRONG_NMS))
def test_wrong_class_wise_nms_fails(wrong):
    result = run_cases(EXERCISES["batched_nms"], WRONG_NMS[wrong])
    assert result.passed < result.total, wrong
    if wrong == "shifts each class by 1000":
        assert [f.split(":")[0] for f in result.failures] == ["coordinates beyond 1000"]


def _labels_with(threshold_rule=None, best_rule="ties"):
    def label_anchors(anchors, targets, positive_iou=0.7, negative_iou=0.3):
        labels = torch.zeros(len(anchors), dtype=torch.long)
        if len(anchors) == 0 or len(targets) == 0:
            return labels
        iou = boxes.box_iou(anchors, targets)
        best = iou.max(dim=1).values
        labels[best >= negative_iou] = -1
        labels[(threshold_rule or (lambda v, t: v >= t))(best, positive_iou)] = 1
        top = iou.max(dim=0).values
        if best_rule == "ties":
            labels[((iou == top) & (top > 0)).any(dim=1)] = 1
        elif best_rule == "argmax":
            labels[iou.argmax(dim=0)[top > 0]] = 1
        elif best_rule == "even at IoU 0":
            labels[(iou == top).any(dim=1)] = 1
        return labels

    return label_anchors


@pytest.mark.parametrize(
    ("wrong", "function", "failing"),
    [
        ("no best-anchor rule", _labels_with(best_rule=None), "an object every anchor misses"),
        ("one best anchor per object", _labels_with(best_rule="argmax"), "three anchors tied"),
        ("best anchors even at IoU 0", _labels_with(best_rule="even at IoU 0"),
         "an object no anchor overlaps"),
        ("positive only above the threshold", _labels_with(lambda v, t: v > t),
         "IoU exactly 0.5 and 0.25"),
    ],
)  # fmt: skip
def test_wrong_anchor_labels_fail_where_their_rule_matters(wrong, function, failing):
    assert run_cases(EXERCISES["label_anchors"], _labels_with()).ok
    result = run_cases(EXERCISES["label_anchors"], function)
    assert result.passed < result.total, wrong
    assert any(f.startswith(failing) for f in result.failures), report(result)


def _yolo_loss_with(**change):
    """The package's loss with one part done wrong."""

    def loss(output, targets, boxes_per_cell, lambda_coord=5.0, lambda_noobj=0.5):
        parts = yolo.split_output(output, boxes_per_cell)
        has_object = targets[..., 4] > 0
        target_xy = targets[..., None, 0:2].expand_as(parts.xy)
        target_wh = targets[..., None, 2:4].expand_as(parts.wh)
        with torch.no_grad():
            iou = yolo._paired_iou(
                yolo.cell_boxes_to_corners(parts.xy, parts.wh, 1),
                yolo.cell_boxes_to_corners(target_xy, target_wh, 1),
            )
        responsible = F.one_hot(iou.argmax(-1), boxes_per_cell).bool() & has_object[..., None]
        other = ~responsible
        if change.get("noobj") == "empty cells only":
            other = ~has_object[..., None].expand_as(responsible)
        confidence_target = torch.ones_like(iou) if change.get("confidence") == 1 else iou
        coord = ((parts.xy - target_xy) ** 2).sum(-1) + (
            (parts.wh.sqrt() - target_wh.sqrt()) ** 2
        ).sum(-1)
        total = (
            lambda_coord * coord[responsible].sum()
            + ((parts.confidence - confidence_target) ** 2)[responsible].sum()
            + lambda_noobj * (parts.confidence**2)[other].sum()
            + F.cross_entropy(parts.class_logits[has_object],
                              targets[..., 5:][has_object].argmax(-1), reduction="sum")
        )  # fmt: skip
        return total if change.get("reduction") == "sum" else total / len(output)

    return loss


@pytest.mark.parametrize(
    "change", [{}, {"confidence": 1}, {"noobj": "empty cells only"}, {"reduction": "sum"}],
    ids=["right", "confidence-1", "noobj-empty-only", "summed"],
)  # fmt: skip
def test_wrong_yolo_losses_fail(change):
    result = run_cases(EXERCISES["yolo_loss"], _yolo_loss_with(**change))
    if not change:
        assert result.ok, report(result)
    else:
        assert result.passed <= result.total - 3, report(result)
