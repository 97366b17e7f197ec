"""Offline data for every chapter: nothing here needs the network.

Real images and digits ship inside scikit-image and scikit-learn wheels, Fashion-MNIST
comes from a Debian package (or a one-time download), and the scenes used for
segmentation and detection, and the sequences of Chapter 9, are generated on the fly.
"""

from cnnbook.data.augment import random_shift
from cnnbook.data.batches import Batches
from cnnbook.data.digits import digits
from cnnbook.data.fashion_mnist import FashionMNISTMissingError, fashion_mnist
from cnnbook.data.images import PHOTOS, photo
from cnnbook.data.scenes import SHAPES, Scenes, make_scenes, simulate_detections
from cnnbook.data.sequences import adding_problem, digit_reversal, noisy_sine

__all__ = [
    "PHOTOS",
    "SHAPES",
    "Batches",
    "FashionMNISTMissingError",
    "Scenes",
    "adding_problem",
    "digit_reversal",
    "digits",
    "fashion_mnist",
    "make_scenes",
    "noisy_sine",
    "photo",
    "random_shift",
    "simulate_detections",
]
