"""Offline data for every chapter: nothing here needs the network.

Real images and digits ship inside scikit-image and scikit-learn wheels, Fashion-MNIST
comes from a Debian package (or a one-time download), and the scenes used for
segmentation and detection are generated on the fly.
"""

from cnnbook.data.augment import random_shift
from cnnbook.data.batches import Batches
from cnnbook.data.digits import digits
from cnnbook.data.fashion_mnist import FashionMNISTMissingError, fashion_mnist
from cnnbook.data.images import PHOTOS, photo
from cnnbook.data.scenes import SHAPES, Scenes, make_scenes, simulate_detections

__all__ = [
    "PHOTOS",
    "SHAPES",
    "Batches",
    "FashionMNISTMissingError",
    "Scenes",
    "digits",
    "fashion_mnist",
    "make_scenes",
    "photo",
    "random_shift",
    "simulate_detections",
]
