"""Chapter 7's grading spec against a plausible wrong mean IoU."""

from cnnbook import metrics
from cnnbook.grading.chapters import ch07
from cnnbook.grading.checks import PUBLIC_SEED, report, run_cases

EXERCISES = {ex.name: ex for ex in ch07.EXERCISES}


def test_the_package_passes_every_case():
    for name, fn in (
        ("mean_iou", metrics.mean_iou),
        ("confusion_matrix", metrics.confusion_matrix),
    ):
        for seed in (PUBLIC_SEED, 2024):
            result = run_cases(EXERCISES[name], fn, seed)
            assert result.ok, report(result)


def test_a_mean_over_the_target_s_classes_only_fails_where_a_class_is_only_predicted():
    """A class the model predicts but the target never contains has IoU 0 and counts."""

    def mean_iou(pred, target, num_classes, ignore_index=None):
        matrix = metrics.confusion_matrix(pred, target, num_classes, ignore_index).double()
        hits = matrix.diag()
        union = matrix.sum(0) + matrix.sum(1) - hits
        scored = matrix.sum(1) > 0  # the wrong part: only the target's classes
        if ignore_index is not None and 0 <= ignore_index < num_classes:
            scored[ignore_index] = False
        return float((hits[scored] / union[scored]).mean())

    result = run_cases(EXERCISES["mean_iou"], mean_iou)
    assert result.passed == result.total - 2, report(result)
    assert all("only predicted" in f for f in result.failures)
