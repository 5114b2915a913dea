"""Data: datasets and loaders, the built-in digits, IDX files (MNIST, Fashion-MNIST), toy sets,
numeric rows from .npy or CSV files (``read_matrix``), and your own tables (``load_table``:
CSV, TSV, Parquet or a DataFrame, prepared for training; polars is imported only then)."""

from .digits import load_digits
from .idx import (
    FASHION_MNIST_CLASSES,
    IDXError,
    load_fashion_mnist,
    load_mnist,
    load_train_test,
    parse_idx,
    read_idx,
)
from .loader import DataLoader, TensorDataset
from .matrix import DataFileError, read_matrix
from .preparation import one_hot, train_val_split
from .table import TableData, TableError, TablePreprocessor, load_table
from .toy import (
    make_blobs,
    make_circles,
    make_elongated,
    make_encoder,
    make_moons,
    make_separable,
    make_spirals,
    make_xor,
)

__all__ = [
    "FASHION_MNIST_CLASSES",
    "DataFileError",
    "DataLoader",
    "IDXError",
    "TableData",
    "TableError",
    "TablePreprocessor",
    "TensorDataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_table",
    "load_train_test",
    "make_blobs",
    "make_circles",
    "make_elongated",
    "make_encoder",
    "make_moons",
    "make_separable",
    "make_spirals",
    "make_xor",
    "one_hot",
    "parse_idx",
    "read_idx",
    "read_matrix",
    "train_val_split",
]
