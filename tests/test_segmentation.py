"""The segmentation training helper and its figures (Chapter 7)."""

import torch

from cnnbook.data import make_scenes
from cnnbook.metrics import mean_iou
from cnnbook.models.fcn import FCN
from cnnbook.segmentation import (
    boundary_band,
    predict,
    show_segmentations,
    standardize,
    train_segmenter,
)


def test_boundary_band_marks_pixels_near_a_change_of_class():
    mask = torch.zeros(1, 7, 7, dtype=torch.long)
    mask[0, 2:5, 2:5] = 1
    band = boundary_band(mask, width=1)[0]
    expected = torch.zeros(7, 7, dtype=torch.bool)
    expected[1:6, 1:6] = True
    expected[3, 3] = False  # its 3x3 neighbourhood is all square: no boundary within 1 pixel
    assert torch.equal(band, expected)
    assert not boundary_band(torch.zeros(1, 5, 5, dtype=torch.long), 2).any()


def test_standardize_uses_the_reference_statistics_and_channels_last():
    reference = torch.rand(20, 3, 8, 8) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    out = standardize(reference, reference)
    torch.testing.assert_close(out.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std((0, 2, 3)), torch.ones(3))
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_train_segmenter_records_scores_and_predictions_every_epoch():
    train, test = make_scenes(48, size=32, seed=1), make_scenes(8, size=32, seed=2)
    x, x_test = standardize(train.images, train.images), standardize(test.images, train.images)
    torch.manual_seed(0)
    model = FCN(4, stride=8, widths=(4, 4, 8, 8, 8))
    history = train_segmenter(model, x, train.masks, x_test, test.masks, epochs=2, device="cpu",
                              lr=1e-2, shown=3, progress=False)  # fmt: skip
    assert len(history.mean_iou) == len(history.train_loss) == len(history.iou) == 2
    assert history.predictions[-1].shape == (3, 32, 32)
    assert history.train_loss[1] < history.train_loss[0]
    final = predict(model, x_test, "cpu")
    assert history.mean_iou[-1] == mean_iou(final, test.masks, 4)
    assert 0 <= history.pixel_accuracy[-1] <= 1 and history.seconds > 0


def test_show_segmentations_draws_one_row_per_entry_with_names():
    scenes = make_scenes(3, size=32, seed=0)
    fig = show_segmentations(scenes.images, {"truth": scenes.masks, "copy": scenes.masks}, "t")
    assert len(fig.axes) == 9
    assert [fig.axes[i * 3].get_ylabel() for i in range(3)] == ["scene", "truth", "copy"]
    assert fig._suptitle.get_text() == "t"
