"""The Chapter 6 architectures against torchvision, the formulas and the papers.

Large networks are built on the meta device (shapes, no memory), so the file stays fast.
"""

import pytest
import torch
import torchvision
from torch import nn

from cnnbook.data import Batches
from cnnbook.measure import count_parameters
from cnnbook.models import (
    BasicBlock,
    DenseBlock,
    InceptionAux,
    InceptionBlock,
    PlainBlock,
    alexnet,
    cifar_net,
    densenet121,
    googlenet,
    lenet5,
    resnet18,
    resnet50,
    vgg,
)
from cnnbook.models.counting import (
    alexnet_params,
    densenet_params,
    googlenet_params,
    inception_macs,
    resnet_params,
    vgg_params,
)
from cnnbook.models.fcn import FCN, UNet, bilinear_upsampler
from cnnbook.models.summary import GLOBAL, count_macs, layer_table, receptive_field


def on_meta(builder, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return builder(**kwargs)


def params_on_meta(builder, **kwargs) -> int:
    return count_parameters(on_meta(builder, **kwargs))


TORCHVISION = {
    "vgg16": (vgg, torchvision.models.vgg16),
    "resnet18": (resnet18, torchvision.models.resnet18),
    "resnet50": (resnet50, torchvision.models.resnet50),
    "densenet121": (densenet121, torchvision.models.densenet121),
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_from_scratch_models_match_torchvision(name):
    ours, theirs = TORCHVISION[name]
    assert params_on_meta(ours) == params_on_meta(theirs, weights=None)


def tv_googlenet(aux: bool) -> int:
    return params_on_meta(
        torchvision.models.googlenet, weights=None, aux_logits=aux, init_weights=False
    )


FORMULAS = {
    "alexnet": (lambda: alexnet_params((64, 192, 384, 256, 256), 1), torchvision.models.alexnet),
    "vgg16": (vgg_params, torchvision.models.vgg16),
    "resnet18": (lambda: resnet_params((2, 2, 2, 2), False), torchvision.models.resnet18),
    "resnet50": (lambda: resnet_params((3, 4, 6, 3), True), torchvision.models.resnet50),
    "densenet121": (densenet_params, torchvision.models.densenet121),
}


@pytest.mark.parametrize("name", list(FORMULAS))
def test_formulas_match_torchvision(name):
    formula, theirs = FORMULAS[name]
    assert formula() == params_on_meta(theirs, weights=None)


def test_googlenet_formula_matches_torchvision_and_the_paper_variant():
    assert googlenet_params(True, aux=True) == tv_googlenet(aux=True)
    assert googlenet_params(True, aux=False) == tv_googlenet(aux=False)
    ours = params_on_meta(googlenet)
    assert ours == googlenet_params()  # the paper's: biases, a real 5x5 branch
    aux = params_on_meta(InceptionAux, in_channels=512) + params_on_meta(
        InceptionAux, in_channels=528
    )
    assert ours + aux == googlenet_params(aux=True)


def test_alexnet_as_in_the_paper():
    assert params_on_meta(alexnet) == alexnet_params() == 60_965_224
    assert params_on_meta(alexnet, groups=1) == alexnet_params(groups=1)


def test_lenet5():
    model = lenet5()
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    assert count_parameters(model) == 61_706
    rows = layer_table(model, (1, 32, 32))
    windowed = [row for row in rows if row.kind in ("Conv2d", "AvgPool2d")]
    assert [row.output_shape for row in windowed] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1),
    ]  # fmt: skip
    assert [row.name for row in windowed] == ["C1.0", "S2", "C3.0", "S4", "C5.0"]
    assert windowed[-1].receptive_field == 32
    assert rows[-1].receptive_field == GLOBAL


def test_layer_table_lists_shared_free_layers_once_each():
    """Every layer of a stage has its own row with its own shape (a module reused in two
    places would be listed once and recorded with its last shape)."""
    rows = layer_table(on_meta(googlenet), (3, 224, 224))
    stem = [row for row in rows if row.name.startswith("stem.")]
    assert len(stem) == 10
    assert stem[2].output_shape == (64, 56, 56) and stem[-1].output_shape == (192, 28, 28)
    alex = layer_table(on_meta(alexnet), (3, 227, 227))
    assert alex[2].kind == "LocalResponseNorm" and alex[2].output_shape == (96, 55, 55)


def test_receptive_fields():
    two = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3))
    assert receptive_field(two) == (5, 1)
    strided = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3))
    assert receptive_field(strided) == (7, 2)
    block = InceptionBlock(8, 4, 4, 4, 2, 2, 2)
    assert receptive_field(block) == (5, 1)  # the 5x5 branch is the widest
    assert receptive_field(nn.Sequential(nn.AdaptiveAvgPool2d(1)))[0] == GLOBAL


def test_count_macs_of_resnet50():
    model = on_meta(torchvision.models.resnet50, weights=None)
    assert count_macs(model, (3, 224, 224)) == 4_089_184_256


class _NaiveInception(nn.Module):
    """The block without its 1x1 reductions, to count what they save."""

    def __init__(self, c_in, c1, c3, c5, pool_proj):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Conv2d(c_in, c1, 1), nn.Conv2d(c_in, c3, 3, padding=1),
            nn.Conv2d(c_in, c5, 5, padding=2),
            nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c_in, pool_proj, 1)),
        ])  # fmt: skip

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


@pytest.mark.parametrize(
    ("c_in", "size", "widths"),
    [(192, 28, (64, 96, 128, 16, 32, 32)), (5, 7, (3, 2, 4, 1, 2, 3)), (3, 1, (1, 1, 1, 1, 1, 1))],
)
def test_inception_macs_is_what_the_block_computes(c_in, size, widths):
    c1, _, c3, _, c5, pool = widths
    block = InceptionBlock(c_in, *widths)
    assert inception_macs(c_in, size, size + 1, *widths) == count_macs(block, (c_in, size, size + 1))
    naive = _NaiveInception(c_in, c1, c3, c5, pool)
    assert inception_macs(c_in, size, size + 1, *widths, reductions=False) == count_macs(
        naive, (c_in, size, size + 1)
    )


def test_inception_3a_costs_what_the_paper_implies():
    assert inception_macs(192, 28, 28, 64, 96, 128, 16, 32, 32) == 128_049_152
    assert inception_macs(192, 28, 28, 64, 96, 128, 16, 32, 32, reductions=False) == 308_281_344


@pytest.mark.parametrize("depth", [8, 20, 44])
@pytest.mark.parametrize("residual", [True, False])
def test_cifar_nets(depth, residual):
    model = on_meta(cifar_net, depth=depth, residual=residual)
    assert model(torch.empty(2, 1, 28, 28, device="meta")).shape == (2, 10)
    block = BasicBlock if residual else PlainBlock
    blocks = [m for m in model.modules() if isinstance(m, PlainBlock)]
    assert len(blocks) == (depth - 2) // 2 and all(type(m) is block for m in blocks)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == depth  # 3x3 convs plus the linear layer


def test_cifar_net_depth_must_be_6n_plus_2():
    with pytest.raises(ValueError, match="6n"):
        cifar_net(21, residual=True)


def test_basic_block_with_zero_last_scale_is_the_identity():
    torch.manual_seed(0)
    block = BasicBlock(4, 4)
    with torch.no_grad():
        block.bn2.weight.zero_()
    block.eval()
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(block(x), torch.relu(x))
    torch.testing.assert_close(block(x.abs()), x.abs())


def test_basic_block_projects_when_the_shape_changes():
    block = BasicBlock(4, 8, stride=2)
    assert block(torch.randn(1, 4, 6, 6)).shape == (1, 8, 3, 3)


@pytest.mark.parametrize("bn_size", [None, 4])
def test_dense_block_concatenates_every_layer(bn_size):
    block = DenseBlock(6, growth_rate=4, num_layers=3, bn_size=bn_size)
    x = torch.randn(2, 6, 5, 5)
    out = block(x)
    assert block.out_channels == 6 + 3 * 4 == out.shape[1]
    assert out.shape[2:] == (5, 5)
    torch.testing.assert_close(out[:, :6], x)  # the input is passed on unchanged


def batches(**kwargs) -> Batches:
    inputs = torch.arange(10, dtype=torch.float32)[:, None]
    return Batches(inputs, torch.arange(10), batch_size=3, **kwargs)


def test_batches_cover_every_index_once_per_epoch_and_reshuffle():
    loader = batches()
    assert len(loader) == 4
    epochs = [torch.cat([targets for _, targets in loader]) for _ in range(2)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(10))
    assert epochs[0].tolist() != epochs[1].tolist()
    assert [len(t) for _, t in loader] == [3, 3, 3, 1]


def test_batches_pair_inputs_with_targets_and_apply_the_transform():
    for x, y in batches(transform=lambda x: -x):
        assert x[:, 0].tolist() == (-y.float()).tolist()
    ordered = torch.cat([y for _, y in batches(shuffle=False)])
    assert ordered.tolist() == list(range(10))
    with pytest.raises(ValueError):
        Batches(torch.zeros(3, 1), torch.zeros(4), batch_size=2)


@pytest.mark.parametrize("stride", [8, 16, 32])
def test_fcn_outputs_one_score_map_per_class_at_the_input_size(stride):
    net = FCN(4, stride=stride).eval()
    for size in (64, 96):
        assert net(torch.randn(2, 3, size, size)).shape == (2, 4, size, size)
    skips = {name for name, _ in net.named_children() if name.startswith("score_pool")}
    assert skips == {32: {"score_pool5"}, 16: {"score_pool5", "score_pool4"},
                     8: {"score_pool5", "score_pool4", "score_pool3"}}[stride]  # fmt: skip
    with pytest.raises(ValueError, match="stride"):
        FCN(4, stride=4)


def test_fcn_upsamplers_start_as_bilinear_interpolation():
    layer = bilinear_upsampler(3, 2)
    x = torch.rand(1, 3, 5, 5)
    expected = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear")
    torch.testing.assert_close(layer(x)[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1])


def test_unet_concatenates_skips_and_keeps_the_size():
    net = UNet(4, widths=(8, 16, 32)).eval()
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 4, 32, 32)
    assert [block[0].in_channels for block in net.refine] == [32, 16]  # skip + upsampled
