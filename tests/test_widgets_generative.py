"""Chapter 10's GAN explorer: one panel per run, the step's snapshot and its mode count."""

import pytest
import torch

from cnnbook import gan
from cnnbook.widgets.generative import render_gan_explorer


def _runs():
    centres = gan.ring_centres()
    spread = centres.repeat(10, 1) + 0.01 * torch.randn(80, 2)
    collapsed = centres[:1].repeat(80, 1)
    return {
        "spread": gan.GANHistory(snapshots={0: collapsed, 100: spread}),
        "collapsed": gan.GANHistory(snapshots={0: collapsed, 100: collapsed}),
    }


def test_each_panel_counts_the_modes_of_its_snapshot():
    data = gan.ring_of_gaussians(200, generator=torch.Generator().manual_seed(0))
    fig = render_gan_explorer(_runs(), data, step=100)
    spread, collapsed = (ax.get_title() for ax in fig.axes)
    assert spread.startswith("spread\nstep 100: 8 of 8 modes")
    assert collapsed.startswith("collapsed\nstep 100: 1 of 8 modes")
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert fig.get_size_inches()[0] <= 6.8


def test_a_step_without_a_snapshot_is_a_value_error():
    with pytest.raises(ValueError, match="no snapshot at step 50"):
        render_gan_explorer(_runs(), torch.zeros(10, 2), step=50)


def test_snapshots_do_not_change_the_run():
    data = gan.ring_of_gaussians(500, generator=torch.Generator().manual_seed(0))
    losses = []
    for every in (None, 5):
        torch.manual_seed(0)
        history = gan.train_gan(gan.mlp_generator(), gan.mlp_discriminator(), data, 10, "cpu",
                                snapshot_every=every)  # fmt: skip
        losses.append(history.d_loss)
    assert losses[0] == losses[1]
    assert sorted(history.snapshots) == [0, 5, 10]
