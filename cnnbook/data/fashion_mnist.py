"""Fashion-MNIST without depending on the network at run time.

Lookup order: an already unpacked copy under `root`; the Debian package
`dataset-fashion-mnist` (its `.gz` files differ from torchvision's checksums, so we
unpack them ourselves and load with ``download=False``); a torchvision download when
`download` is allowed and the network answers. Otherwise a `FashionMNISTMissingError`
says how to get the data instead of a stack trace about URLs.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class FashionMNISTMissingError(FileNotFoundError):
    """Fashion-MNIST is neither on disk nor downloadable from here."""


def default_root() -> Path:
    """`$CNNBOOK_DATA`, else `~/.cache/cnnbook`: one copy shared by all chapters."""
    return Path(os.environ.get("CNNBOOK_DATA", Path.home() / ".cache" / "cnnbook"))


def _raw_dir(root: Path) -> Path:
    return root / "FashionMNIST" / "raw"


def _has_raw(root: Path) -> bool:
    return all((_raw_dir(root) / name).is_file() for name in FILES)


def _unpack_from(source: Path, root: Path) -> bool:
    """Unpack the four `.gz` files of `source` into torchvision's layout under `root`."""
    if not all((source / f"{name}.gz").is_file() for name in FILES):
        return False
    raw = _raw_dir(root)
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        partial = raw / f"{name}.part"
        with gzip.open(source / f"{name}.gz", "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.replace(raw / name)  # atomic: a parallel reader never sees half a file
    return True


def fashion_mnist(
    train: bool = True,
    root: str | Path | None = None,
    download: bool = True,
    source: str | Path = DEBIAN_DIR,
):
    """The Fashion-MNIST train (60,000) or test (10,000) split as a torchvision dataset.

    Images come back as PIL images unless you pass a transform later via
    ``dataset.transform``; most chapters use ``dataset.data`` (uint8, N x 28 x 28) and
    ``dataset.targets`` directly, which is faster on a CPU than a per-item transform.
    """
    from torchvision.datasets import FashionMNIST

    root = Path(root) if root is not None else default_root()
    if _has_raw(root) or _unpack_from(Path(source), root):
        return FashionMNIST(str(root), train=train, download=False)
    if download:
        try:
            return FashionMNIST(str(root), train=train, download=True)
        except Exception as error:  # any network failure ends in the same advice
            raise FashionMNISTMissingError(_advice(root, source)) from error
    raise FashionMNISTMissingError(_advice(root, source))


def _advice(root: Path, source: str | Path) -> str:
    return (
        "Fashion-MNIST was not found and could not be downloaded. Get it one of these ways:\n"
        "  - Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist "
        f"(installs {Path(source)}/*.gz);\n"
        "  - run once with network access: cnnbook.data.fashion_mnist(download=True);\n"
        f"  - copy the four files {', '.join(FILES)} into {_raw_dir(root)}."
    )
