"""The architectures of Chapter 6, written from the papers in plain PyTorch, and the
small sequence model of Chapter 9.

Each network is an `nn.Sequential` of named stages (stem, blocks, head), so the
architecture explorer can list it stage by stage; the blocks that branch or skip
(Inception, residual, dense) are small modules of their own. The grader uses the blocks
as its references for the chapter's exercises.
"""

from cnnbook.models.classic import VGG16, alexnet, lenet5, nin_block, vgg
from cnnbook.models.dense import DenseBlock, Transition, dense_layer, densenet, densenet121
from cnnbook.models.inception import InceptionAux, InceptionBlock, googlenet
from cnnbook.models.recurrent import SequenceRegressor
from cnnbook.models.residual import (
    BasicBlock,
    Bottleneck,
    PlainBlock,
    cifar_net,
    resnet,
    resnet18,
    resnet50,
)
from cnnbook.models.seq2seq import EncoderDecoder
from cnnbook.models.transformer import TokenTransformer, TransformerRegressor

__all__ = [
    "VGG16",
    "BasicBlock",
    "Bottleneck",
    "DenseBlock",
    "EncoderDecoder",
    "InceptionAux",
    "InceptionBlock",
    "PlainBlock",
    "SequenceRegressor",
    "TokenTransformer",
    "TransformerRegressor",
    "Transition",
    "alexnet",
    "cifar_net",
    "dense_layer",
    "densenet",
    "densenet121",
    "googlenet",
    "lenet5",
    "nin_block",
    "resnet",
    "resnet18",
    "resnet50",
    "vgg",
]
