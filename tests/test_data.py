import gzip
import struct

import numpy as np
import pytest
import torch

from cnnbook.data import (
    SHAPES,
    FashionMNISTMissingError,
    digits,
    fashion_mnist,
    make_scenes,
    photo,
    simulate_detections,
)
from cnnbook.data.fashion_mnist import FILES
from cnnbook.metrics import mean_average_precision


@pytest.mark.parametrize("name", ["camera", "astronaut", "china"])
def test_photo_is_a_float_image_in_unit_range(name):
    image = photo(name, size=64)
    assert image.dtype == torch.float32
    assert image.shape[0] in (1, 3) and min(image.shape[1:]) == 64
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def test_photo_gray_and_unknown_name():
    assert photo("astronaut", size=32, gray=True).shape == (1, 32, 32)
    with pytest.raises(ValueError, match="unknown photo"):
        photo("mona lisa")


def test_digits_split_is_disjoint_and_seeded():
    train, test = digits()
    assert len(train) + len(test) == 1797
    assert train.tensors[0].shape[1:] == (1, 8, 8)
    assert float(train.tensors[0].max()) <= 1.0
    again, _ = digits()
    assert torch.equal(train.tensors[1], again.tensors[1])
    other, _ = digits(seed=1)
    assert not torch.equal(train.tensors[1], other.tensors[1])


def _write_idx(path, array: np.ndarray) -> None:
    """Write `array` in the IDX format of (Fashion-)MNIST, gzipped."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_fashion_source(tmp_path):
    source = tmp_path / "debian"
    source.mkdir()
    rng = np.random.default_rng(0)
    for name in FILES:
        n = 6 if name.startswith("train") else 4
        data = rng.integers(0, 256, (n, 28, 28)) if "images" in name else rng.integers(0, 10, n)
        _write_idx(source / f"{name}.gz", data)
    return source


def test_fashion_mnist_unpacks_a_debian_style_copy(tmp_path, tiny_fashion_source):
    root = tmp_path / "data"
    train = fashion_mnist(train=True, root=root, download=False, source=tiny_fashion_source)
    test = fashion_mnist(train=False, root=root, download=False, source=tiny_fashion_source)
    assert train.data.shape == (6, 28, 28) and test.data.shape == (4, 28, 28)
    assert (root / "FashionMNIST" / "raw" / FILES[0]).is_file()
    # the unpacked copy is reused without the source
    assert len(fashion_mnist(root=root, download=False, source=tmp_path / "gone")) == 6


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(FashionMNISTMissingError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist(root=tmp_path, download=False, source=tmp_path / "nothing")


def test_scenes_shapes_and_determinism():
    scenes = make_scenes(20, size=48, seed=3)
    assert len(scenes) == 20
    assert scenes.images.shape == (20, 3, 48, 48)
    assert scenes.masks.shape == (20, 48, 48) and scenes.masks.max() <= len(SHAPES)
    again = make_scenes(20, size=48, seed=3)
    assert torch.equal(scenes.images, again.images) and torch.equal(scenes.masks, again.masks)
    assert not torch.equal(scenes.images, make_scenes(20, size=48, seed=4).images)


def test_scene_boxes_enclose_their_objects_pixels():
    scenes = make_scenes(30, size=64, seed=0)
    for mask, boxes, labels in zip(scenes.masks, scenes.boxes, scenes.labels, strict=True):
        assert len(boxes) == len(labels) >= 1
        for (x0, y0, x1, y1), label in zip(boxes.long().tolist(), labels.tolist(), strict=True):
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64
            inside = mask[y0:y1, x0:x1] == label
            # the box is tight: the object touches all four edges of its box
            assert (
                inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            )


def test_scene_class_is_the_largest_shape():
    scenes = make_scenes(10, seed=1)
    for mask, cls in zip(scenes.masks, scenes.classes, strict=True):
        areas = [(mask == k).sum() for k in range(1, len(SHAPES) + 1)]
        assert int(cls) == int(torch.stack(areas).argmax())


def test_simulated_detections_have_the_errors_asked_for():
    scenes = make_scenes(300, size=64, seed=9)
    truth = [{"boxes": b, "labels": lab} for b, lab in zip(scenes.boxes, scenes.labels,
                                                           strict=True)]  # fmt: skip
    perfect = simulate_detections(scenes, 0, found=1, duplicate=0, wrong_class=0,
                                  max_false_positives=0, jitter=0)  # fmt: skip
    assert mean_average_precision(perfect, truth)[0] == 1.0
    assert all(torch.equal(p["boxes"], t["boxes"]) for p, t in zip(perfect, truth, strict=True))
    none = simulate_detections(scenes, 0, found=0, duplicate=0, max_false_positives=0)
    assert sum(len(d["boxes"]) for d in none) == 0
    objects = sum(len(b) for b in scenes.boxes)
    found = simulate_detections(scenes, 1, duplicate=0, max_false_positives=0)
    assert abs(sum(len(d["boxes"]) for d in found) / objects - 0.85) < 0.04
    noisy = simulate_detections(scenes, 2)
    score = mean_average_precision(noisy, truth)[0]
    assert 0.5 < score < 0.95
    assert all(((d["scores"] > 0) & (d["scores"] <= 1)).all() for d in noisy)
