"""A table from a file or a DataFrame: CSV, TSV (either gzipped) or Parquet, read by polars.

The kind of file is told by its first bytes (Parquet's ``PAR1``, gzip's magic), then by its
name; the delimiter of text is sniffed from its first lines (comma, semicolon, tab or bar). The
header is checked before the rows are parsed (duplicate or empty names), the usual markers of
a missing value are read as missing, and every failure is a ``TableError`` naming the file and,
where it applies, the line and the column. A pandas DataFrame is accepted as it is.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import polars
    import polars as pl

_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_NPY_MAGIC = b"\x93NUMPY"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"
_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}
_SAMPLE_BYTES = 1 << 16
# Read as missing in every column: what R, pandas, spreadsheets and the UCI archive write.
MISSING_MARKERS = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "?")
INSTALL_HINT = "pip install 'chainrule[cli]' (or pip install polars)"


class TableError(ValueError):
    """A table that cannot be used: the message names the file (or DataFrame), then the column
    and the line where they apply, then what was wrong."""


def import_polars() -> Any:  # the module; Any, since polars is optional
    """The polars module, or an ImportError that says in one line what to install."""
    try:
        import polars
    except ImportError:
        raise ImportError(f"reading tables needs polars: {INSTALL_HINT}") from None
    return polars


def is_table_path(text: str) -> bool:
    """Whether a ``--data`` value names a file rather than a built-in data set."""
    return os.sep in text or "/" in text or Path(text).suffix != "" or Path(text).exists()


def read_table(source: Any, name: str | None = None) -> tuple[pl.DataFrame, str]:
    """The table in ``source`` (a path, a polars or a pandas DataFrame) as a polars DataFrame,
    and the name that messages use for it (the path, or "the DataFrame")."""
    pl = import_polars()
    if isinstance(source, pl.DataFrame):
        label = name or "the DataFrame"
        frame = source
    elif _is_pandas_frame(source):
        label = name or "the DataFrame"
        frame = _from_pandas(source, label)
    elif isinstance(source, (str, os.PathLike)):
        label = name or str(source)
        frame = _read_file(Path(source), label)
    else:
        raise TypeError(
            f"a table is a path, a polars DataFrame or a pandas DataFrame, not "
            f"{type(source).__name__}"
        )
    return tidy(frame, label), label


def tidy(frame: pl.DataFrame, label: str) -> pl.DataFrame:
    """The frame with the spaces around its names and text values removed (as a hand-written
    "a, b, c" puts them), and its text columns that hold only numbers read as numbers."""
    pl = import_polars()
    _check_names([str(name) for name in frame.columns], label)
    stripped = [str(name).strip() for name in frame.columns]
    _check_names(stripped, label)
    frame = frame.rename(dict(zip(frame.columns, stripped)))
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    frame = frame.with_columns(pl.col(text).str.strip_chars())
    numbers = []
    for name in text:
        sample = frame[name].head(1000).drop_nulls()
        if len(sample) and bool(sample.cast(pl.Float64, strict=False).is_not_null().all()):
            values = frame[name].cast(pl.Float64, strict=False)
            if values.null_count() == frame[name].null_count():  # every value is a number
                numbers.append(values)
    return frame.with_columns(numbers) if numbers else frame


def _is_pandas_frame(source: Any) -> bool:
    module = type(source).__module__
    return module.startswith("pandas") and type(source).__name__ == "DataFrame"


def _from_pandas(frame: Any, label: str) -> pl.DataFrame:
    """A pandas DataFrame as polars, column by column through NumPy (no pyarrow needed)."""
    pl = import_polars()
    names = [str(column) for column in frame.columns]
    _check_names(names, label)
    columns = []
    for name, column in zip(names, frame.columns):
        series = frame[column]
        kind = series.dtype.kind
        if kind in "iuf":  # NumPy numbers, or pandas' nullable Int64/Float64 (NA: null)
            if bool(series.isna().any()):
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                numbers = pl.Series(name, values, nan_to_null=True)
                columns.append(numbers.cast(pl.Int64) if kind in "iu" else numbers)
            else:
                columns.append(pl.Series(name, series.to_numpy(), nan_to_null=kind == "f"))
        elif kind == "b":  # bool, or pandas' nullable boolean with NA
            values = [None if _missing_object(item) else bool(item) for item in series.tolist()]
            columns.append(pl.Series(name, values, dtype=pl.Boolean))
        else:  # text, categories, objects: missing values (NaN, None, pd.NA) become null
            values = [None if _missing_object(item) else item for item in series.tolist()]
            try:
                columns.append(pl.Series(name, values, strict=False))
            except (TypeError, ValueError, OverflowError) as error:
                raise TableError(f"{label}: column {name!r}: {error}") from None
    converted: polars.DataFrame = pl.DataFrame(columns)
    return converted


def _missing_object(item: Any) -> bool:
    if item is None:
        return True
    try:
        return bool(item != item)  # NaN, pd.NA and NaT are not equal to themselves
    except (TypeError, ValueError):
        return True  # pd.NA refuses a truth value


def _check_names(names: list[str], label: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise TableError(
                f"{label}: column {position} of the header has no name; every column needs one"
            )
        if name in seen:
            raise TableError(
                f"{label}: column {name!r} appears twice in the header (columns {seen[name]} and "
                f"{position}); rename one"
            )
        seen[name] = position


def _read_file(path: Path, label: str) -> pl.DataFrame:
    if path.is_dir():
        raise TableError(f"{label}: is a folder, not a table file")
    try:
        with open(path, "rb") as file:
            head = file.read(_SAMPLE_BYTES)
    except FileNotFoundError:
        raise TableError(f"{label}: no such file") from None
    except OSError as error:
        raise TableError(f"{label}: cannot be read ({error.strerror or error})") from None
    if head.startswith(_PARQUET_MAGIC):
        return _read_parquet(path, label)
    if head.startswith(_GZIP_MAGIC):
        head = _gunzipped_head(path, label)
    _refuse_binary(head, label)
    return _read_text(path, head, label)


def _read_parquet(path: Path, label: str) -> pl.DataFrame:
    pl = import_polars()
    try:
        frame: polars.DataFrame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise TableError(f"{label}: not a readable Parquet file ({_first_line(error)})") from None
    _check_names([str(name) for name in frame.columns], label)
    return frame


def _gunzipped_head(path: Path, label: str) -> bytes:
    try:
        with gzip.open(path, "rb") as file:
            return file.read(_SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as error:
        raise TableError(f"{label}: a damaged gzip file ({error})") from None


def _refuse_binary(head: bytes, label: str) -> None:
    kinds = {
        _NPY_MAGIC: "a NumPy .npy array",
        _ZIP_MAGIC: "a zip archive (a .npz model or array?)",
        b"\x89PNG": "a PNG picture",
    }
    for magic, kind in kinds.items():
        if head.startswith(magic):
            raise TableError(f"{label}: is {kind}, not a table (CSV, TSV or Parquet)")
    if head.startswith(_UTF16_BOMS):
        raise TableError(f"{label}: is UTF-16 text; save it as UTF-8 (with or without a BOM)")
    if b"\x00" in head:
        raise TableError(f"{label}: is binary, not a table (CSV, TSV or Parquet)")
    if not head.strip():
        raise TableError(f"{label}: is empty; a table needs a header and at least one row")


def _text_sample(head: bytes, label: str) -> str:
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM) :]
    if len(head) == _SAMPLE_BYTES:  # cut at the last line end, so no line or character is split
        head = head[: head.rfind(b"\n") + 1] or head
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as error:
        line = head[: error.start].count(b"\n") + 1
        raise TableError(
            f"{label}: line {line} is not UTF-8 text (byte {head[error.start]:#04x}); save the "
            "file as UTF-8"
        ) from None


def sniff_delimiter(sample: str, path: Path) -> str:
    """The delimiter of a text table: the one ``csv.Sniffer`` finds among comma, semicolon,
    tab and bar; else the one of the header line that most often occurs; else the name's
    (tab for .tsv, comma otherwise)."""
    lines = [line for line in sample.splitlines() if line.strip()][:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    header = lines[0] if lines else ""
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    if counts[best] > 0:
        return best
    return "\t" if ".tsv" in path.suffixes or ".tab" in path.suffixes else ","


def _read_text(path: Path, head: bytes, label: str) -> pl.DataFrame:
    pl = import_polars()
    sample = _text_sample(head, label)
    delimiter = sniff_delimiter(sample, path)
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    _check_names(header, label)
    options: dict[str, Any] = dict(
        separator=delimiter,
        null_values=list(MISSING_MARKERS),
        raise_if_empty=True,
    )
    frame: polars.DataFrame
    try:
        try:
            frame = pl.read_csv(path, **options)
        except pl.exceptions.ComputeError as error:
            if "could not parse" not in str(error):
                raise
            # A column whose first rows looked like another type: infer from every row.
            frame = pl.read_csv(path, infer_schema_length=None, **options)
    except pl.exceptions.NoDataError:
        raise TableError(
            f"{label}: is empty; a table needs a header and at least one row"
        ) from None
    except (pl.exceptions.PolarsError, OSError) as error:
        raise TableError(f"{label}: {_diagnosis(path, delimiter, error)}") from None
    if delimiter == ";" and _has_decimal_commas(frame):
        frame = pl.read_csv(path, decimal_comma=True, infer_schema_length=None, **options)
    if frame.width != len(header):  # a header polars read otherwise than csv (quotes)
        raise TableError(
            f"{label}: the header has {len(header)} names separated by "
            f"{_DELIMITER_NAMES[delimiter]}s, and the rows {frame.width} values"
        )
    if frame.height == 0:
        raise TableError(f"{label}: has a header but no rows")
    _refuse_short_rows(path, frame, delimiter, label)
    return frame


def _refuse_short_rows(path: Path, frame: pl.DataFrame, delimiter: str, label: str) -> None:
    """polars fills a row with fewer values than the header with missing values; refuse it,
    naming its line. Only a table whose last column has missing values can hold such a row,
    and only then are its lines counted (the delimiters of each line, then, for a line with
    too few, Python's csv module, which knows quotes and line breaks inside them)."""
    pl = import_polars()
    if frame[frame.columns[-1]].null_count() == 0:
        return
    lines = pl.read_csv(
        path, has_header=False, separator="\x1f", quote_char=None, new_columns=["line"],
        schema_overrides={"line": pl.String}, skip_rows=1,
    )["line"]  # fmt: skip
    counts = lines.fill_null("").str.count_matches(delimiter, literal=True)
    if bool((counts >= frame.width - 1).all()):
        return
    problem = _row_lengths(path, delimiter)
    if problem:
        raise TableError(f"{label}: {problem}")


_DECIMAL_NUMBER = r"^\s*[+-]?[0-9]*(,[0-9]+)?\s*$"


def _has_decimal_commas(frame: pl.DataFrame) -> bool:
    """Whether a semicolon-separated table writes its numbers with decimal commas ("3,5"), as
    spreadsheets do in much of Europe: a text column whose first values are all numbers so
    written (whole numbers among them), one at least with a comma."""
    pl = import_polars()
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            values = frame[name].head(1000).drop_nulls()
            if (
                len(values)
                and bool(values.str.contains(_DECIMAL_NUMBER).all())
                and bool(values.str.contains(",", literal=True).any())
            ):
                return True
    return False


def _diagnosis(path: Path, delimiter: str, error: BaseException) -> str:
    """What is wrong with a text table polars refused: the first line that is not UTF-8, or
    whose number of values differs from the header's (Python's csv module), else polars'
    words."""
    if "utf-8" in str(error).lower() or "utf8" in str(error).lower():
        line = _first_line_not_utf8(path)
        if line is not None:
            return f"line {line[0]} is not UTF-8 text (byte {line[1]:#04x}); save the file as UTF-8"
    return _row_lengths(path, delimiter) or f"cannot be read as a table ({_first_line(error)})"


def _first_line_not_utf8(path: Path) -> tuple[int, int] | None:
    """The number of the first line that is not UTF-8, and its first such byte."""
    opener = gzip.open if _starts_with(path, _GZIP_MAGIC) else open
    with opener(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as problem:
                return number, line[problem.start]
    return None


def _row_lengths(path: Path, delimiter: str) -> str:
    """The first line whose number of values differs from the header's, in words, or ''."""
    opener = gzip.open if _starts_with(path, _GZIP_MAGIC) else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as file:
            rows = csv.reader(file, delimiter=delimiter)
            width = len(next(rows, []))
            for row in rows:
                if row and len(row) != width:
                    return (
                        f"line {rows.line_num} has {len(row)} values and the header "
                        f"{width} ({_DELIMITER_NAMES[delimiter]}-separated)"
                    )
    except (OSError, UnicodeDecodeError, csv.Error, EOFError, zlib.error) as problem:
        return f"cannot be read as a table ({problem})"
    return ""


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as file:
        return file.read(len(magic)) == magic


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
