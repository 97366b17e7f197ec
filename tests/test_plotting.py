import torch

from cnnbook.plotting import (
    draw_boxes,
    plot_history,
    show_detections,
    show_images,
    show_kernels,
)


def test_show_images_titles_labels_and_signed_colormap():
    images = [torch.rand(1, 8, 8), torch.randn(8, 8), torch.rand(3, 8, 8)]
    fig = show_images(images, ["a", "b", "c"], suptitle="grid", cols=2)
    axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    signed = axes[1].images[0]
    assert signed.get_cmap().name == "RdBu_r" and signed.norm.vmin == -signed.norm.vmax
    assert len(fig.axes) == 4 and not fig.axes[3].axison  # the spare cell is blank


def test_plot_history_draws_each_curve_on_labelled_axes():
    history = {
        "train_loss": [1.0, 0.5],
        "val_loss": [1.1, 0.7],
        "train_accuracy": [0.5, 0.8],
        "val_accuracy": [],
    }
    loss_ax, acc_ax = plot_history(history).axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 1
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"


def test_draw_boxes_adds_one_rectangle_per_box():
    fig = draw_boxes(
        torch.rand(3, 16, 16),
        torch.tensor([[1.0, 2, 5, 6], [0, 0, 16, 16]]),
        ["circle", "square"],
        title="t",
    )
    ax = fig.axes[0]
    assert len(ax.patches) == 2 and [t.get_text() for t in ax.texts] == ["circle", "square"]
    # pixel edges: the box from pixel 1 to pixel 5 spans the pixels centred at 1, ..., 4
    assert ax.patches[0].get_xy() == (0.5, 1.5) and ax.patches[0].get_width() == 4


def test_show_detections_one_row_per_detector_truth_dashed_under_each():
    truth = [{"boxes": torch.tensor([[1.0, 1, 6, 6]]), "labels": torch.tensor([2])}] * 3
    found = [{"boxes": torch.tensor([[1.0, 1, 5, 6], [8, 8, 12, 12]]),
              "labels": torch.tensor([2, 1]), "scores": torch.tensor([0.9, 0.25])}] * 3  # fmt: skip
    fig = show_detections(torch.rand(3, 3, 16, 16), {"raw": found, "kept": truth}, "t",
                          ("circle", "square"), truth)  # fmt: skip
    assert len(fig.axes) == 6 and fig.axes[0].get_ylabel() == "raw"
    # a scored row writes the scores in its boxes' class colours; an unscored row, where
    # raw detections pile up, writes nothing, and the legend names the colours
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.90", "0.25"]
    assert [t.get_color() for t in fig.axes[0].texts] == ["cyan", "yellow"]
    assert len(fig.axes[3].texts) == 0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["circle", "square", "true box"]
    assert sum(p.get_linestyle() == "--" for p in fig.axes[0].patches) == 1


def test_show_kernels_writes_every_weight_in_its_cell():
    fig = show_kernels({"a": torch.eye(3), "b": torch.full((2, 2), -0.5)}, suptitle="k")
    first, second = fig.axes
    assert first.get_title() == "a" and second.get_title() == "b"
    assert [t.get_text() for t in first.texts].count("1") == 3
    assert [t.get_text() for t in second.texts] == ["-0.5"] * 4
    assert first.get_xlabel() == "column" and first.get_ylabel() == "row"
