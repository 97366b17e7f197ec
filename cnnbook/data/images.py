"""Real photographs that ship inside installed wheels, as tensors ready for `F.conv2d`."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Photos from scikit-image (`skimage.data`) and scikit-learn (`load_sample_images`).
PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "china", "flower")


def _load_array(name: str) -> np.ndarray:
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    import skimage.data

    return getattr(skimage.data, name)()


def photo(name: str = "camera", size: int | None = None, gray: bool = False) -> torch.Tensor:
    """A photo as a float tensor in [0, 1], shaped (C, H, W) with C = 1 or 3.

    `size` resizes the shorter side (antialiased), because a 512-pixel image makes
    loop-based code in the chapters needlessly slow. `gray` averages the colour channels
    with the ITU-R 601 luma weights.
    """
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose one of {', '.join(PHOTOS)}")
    array = _load_array(name)
    image = torch.from_numpy(np.array(array)).float() / 255.0
    image = image.unsqueeze(0) if image.ndim == 2 else image.permute(2, 0, 1)
    if gray and image.shape[0] == 3:
        luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        image = (image * luma).sum(0, keepdim=True)
    if size is not None:
        h, w = image.shape[-2:]
        scale = size / min(h, w)
        new = (max(1, round(h * scale)), max(1, round(w * scale)))
        image = F.interpolate(image[None], size=new, mode="bilinear", antialias=True)[0]
        image = image.clamp(0.0, 1.0)
    return image
