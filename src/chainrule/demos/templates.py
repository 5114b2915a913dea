"""``chainrule demo templates``: the weights of a linear classifier, drawn as images, are one
template per class.

A linear softmax classifier (no hidden layer) scores class k as w_k · x + b_k: one weight per
pixel and class. Each w_k, drawn in the shape of the images, shows which pixels count for the
class (positive weights) and which against it (negative ones). The demonstration trains it on
Fashion-MNIST when the files are installed (Debian's ``dataset-fashion-mnist``, or the IDX files
where ``chainrule.data.load_fashion_mnist`` looks), else on the 8x8 digits that ship with
chainrule, and compares its test accuracy with a small MLP's trained just as long.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..data import (
    FASHION_MNIST_CLASSES,
    DataLoader,
    TensorDataset,
    load_digits,
    load_fashion_mnist,
    train_val_split,
)
from ..train import evaluate, fit
from . import _figures
from ._result import DemoResult

FASHION_SAMPLES = 10_000
"""Training images drawn at random from Fashion-MNIST's 60,000 (the whole 10,000 test images
are used), so that the demonstration takes seconds."""
FASHION_EPOCHS = 5
FASHION_LEARNING_RATE = 0.002
DIGITS_EPOCHS = 30
DIGITS_LEARNING_RATE = 0.01
DIGITS_TEST_FRACTION = 0.25
BATCH_SIZE = 128
HIDDEN = 128
DIGIT_CLASSES = tuple(f"digit {digit}" for digit in range(10))


@dataclass(frozen=True)
class ImageData:
    """Flattened images scaled to [0, 1], split into training and test sets."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    epochs: int
    lr: float


def load_images(seed: int = 0) -> ImageData:
    """Fashion-MNIST (``FASHION_SAMPLES`` random training images, all test images) when it is
    installed, else the built-in digits (a random quarter held out for testing).

    Nothing is downloaded: a demonstration should run in seconds, offline.
    """
    rng = np.random.default_rng(seed)
    try:
        train_images, train_labels = load_fashion_mnist("train", download=False)
        test_images, test_labels = load_fashion_mnist("test", download=False)
    except FileNotFoundError:
        images, labels = load_digits()
        X = _flatten(images, scale=16.0)
        X_train, X_test, y_train, y_test = train_val_split(
            X, labels, val_fraction=DIGITS_TEST_FRACTION, seed=seed
        )
        return ImageData(
            name="digits",
            X_train=X_train,
            y_train=y_train,
            X_test=X_test,
            y_test=y_test,
            image_shape=(images.shape[1], images.shape[2]),
            class_names=DIGIT_CLASSES,
            epochs=DIGITS_EPOCHS,
            lr=DIGITS_LEARNING_RATE,
        )
    chosen = rng.choice(
        len(train_images), size=min(FASHION_SAMPLES, len(train_images)), replace=False
    )
    return ImageData(
        name="Fashion-MNIST",
        X_train=_flatten(train_images[chosen], scale=255.0),
        y_train=train_labels[chosen],
        X_test=_flatten(test_images, scale=255.0),
        y_test=test_labels,
        image_shape=(train_images.shape[1], train_images.shape[2]),
        class_names=FASHION_MNIST_CLASSES,
        epochs=FASHION_EPOCHS,
        lr=FASHION_LEARNING_RATE,
    )


def _flatten(images: np.ndarray, scale: float) -> np.ndarray:
    flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(scale)
    return np.asarray(flat)


@dataclass
class TemplatesResult(DemoResult):
    """Facts of the templates demonstration: ``templates[k]`` is class k's weight image."""

    dataset: str
    class_names: tuple[str, ...]
    templates: np.ndarray
    n_train: int
    n_test: int
    epochs: int
    linear_accuracy: float
    mlp_accuracy: float
    hidden: int
    files: list[Path]

    def summary(self) -> str:
        height, width = self.templates.shape[1:]
        source = (
            f"{self.n_train:,} Fashion-MNIST training images (drawn at random from 60,000)"
            if self.dataset == "Fashion-MNIST"
            else f"{self.n_train:,} of chainrule's built-in 8x8 digits (Fashion-MNIST is not "
            "installed: Debian's dataset-fashion-mnist or the IDX files in "
            "~/.cache/chainrule/fashion-mnist would be used)"
        )
        return (
            "A linear softmax classifier, with no hidden layer and so one weight per pixel and "
            f"class, trained on {source} for {self.epochs} epochs of Adam (batch {BATCH_SIZE}) "
            f"has one weight vector per class; drawn as {height}x{width} images they are "
            "templates of the classes, red where a lit pixel adds to the class's score and "
            "blue where it subtracts. "
            f"It classifies {self.linear_accuracy:.1%} of the {self.n_test:,} test images "
            f"correctly, a network with one hidden layer of {self.hidden} ReLU units trained "
            f"just as long {self.mlp_accuracy:.1%}."
        )


def run(out: Path, *, seed: int = 0, animate: bool = False) -> TemplatesResult:
    """Train a linear classifier and an MLP on the same images; draw the linear one's weights.

    Writes ``templates.png``. ``animate`` is accepted and ignored.
    """
    data = load_images(seed)
    n_features = data.X_train.shape[1]
    n_classes = len(data.class_names)
    linear = nn.Linear(n_features, n_classes)
    # Pixels that are dark in every image (Fashion-MNIST's border) get no gradient and keep
    # their starting weight: zero leaves them at the neutral colour of the picture.
    nn.init.zeros_(linear.weight)
    assert linear.bias is not None
    nn.init.zeros_(linear.bias)
    mlp = nn.mlp(n_features, [HIDDEN], n_classes, "relu", rng=np.random.default_rng(seed))
    accuracies = [_train(model, data, seed) for model in (linear, mlp)]
    templates = np.asarray(linear.weight.data, dtype=np.float64).reshape(
        (n_classes, *data.image_shape)
    )
    result = TemplatesResult(
        dataset=data.name,
        class_names=data.class_names,
        templates=templates,
        n_train=len(data.X_train),
        n_test=len(data.X_test),
        epochs=data.epochs,
        linear_accuracy=accuracies[0],
        mlp_accuracy=accuracies[1],
        hidden=HIDDEN,
        files=[],
    )
    result.files.append(_draw(result, out / "templates.png"))
    return result


def _train(model: nn.Module, data: ImageData, seed: int) -> float:
    """Train ``model`` with Adam on the training images; return its test accuracy."""
    loss_fn = nn.CrossEntropyLoss()
    fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=data.lr),
        DataLoader(
            TensorDataset(data.X_train, data.y_train),
            batch_size=BATCH_SIZE,
            shuffle=True,
            seed=seed,
        ),
        epochs=data.epochs,
        progress=False,
    )
    _, accuracy = evaluate(model, loss_fn, (data.X_test, data.y_test))
    return accuracy


def _dataset_label(dataset: str) -> str:
    return "the built-in digits" if dataset == "digits" else dataset


def _draw(result: TemplatesResult, path: Path) -> Path:
    figure = _figures.new_figure(13.0, 6.4)
    grid = figure.subplots(2, 5)
    # One colour scale for all ten, centred at 0, so that the colours compare across classes.
    bound = float(np.abs(result.templates).max()) or 1.0
    image = None
    for k, axes in enumerate(grid.flat):
        image = axes.imshow(
            result.templates[k], cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest"
        )
        axes.set_title(result.class_names[k], fontsize=12)
        axes.set_xticks([])
        axes.set_yticks([])
    colour_bar = figure.colorbar(image, ax=grid, shrink=0.85, pad=0.02)
    colour_bar.set_label("weight (red: the pixel counts for the class, blue: against)")
    height, width = result.templates.shape[1:]
    figure.suptitle(
        f"The weights of a linear classifier on {_dataset_label(result.dataset)}, one "
        f"{height}x{width} image "
        f"per class\ntest accuracy {result.linear_accuracy:.1%} "
        f"(an MLP with {result.hidden} hidden units: {result.mlp_accuracy:.1%})",
        fontsize=13,
    )
    return _figures.save_png(figure, path)
