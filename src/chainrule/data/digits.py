"""The 8x8 handwritten digits that ship inside the package, so everything works offline."""

from __future__ import annotations

from importlib import resources

import numpy as np


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """1,797 images of handwritten digits: uint8 images (1797, 8, 8), pixels 0-16, and int64
    labels 0-9.

    The test set of "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak, 1998),
    UCI Machine Learning Repository, CC BY 4.0 (see ``data/_files/DIGITS_LICENSE.txt``).
    """
    with resources.files(__package__).joinpath("_files/digits.npz").open("rb") as file:
        with np.load(file, allow_pickle=False) as archive:
            return archive["images"].copy(), archive["labels"].astype(np.int64)
