"""Tables uploaded from the page (chainrule.playground.upload): the formats, the caps, one-line
refusals that name the file as the user called it (never the server's temporary path), and
two columns made into points as ``load_table`` preprocesses them."""

from __future__ import annotations

import gzip
import io
from typing import Any

import numpy as np
import pytest

from chainrule.playground.upload import (
    MAX_UNPACKED_BYTES,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_ROWS,
    UploadError,
    read_upload,
)

pl = pytest.importorskip("polars")


def csv_bytes(columns: dict[str, Any], separator: str = ",") -> bytes:
    names = list(columns)
    rows = zip(*(columns[name] for name in names))
    lines = [separator.join(names)] + [separator.join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def columns() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n = 400
    return {
        "length": rng.normal(40, 7, n).round(3),
        "depth": rng.uniform(10, 20, n).round(3),
        "mass": rng.normal(4000, 500, n).round(1),
        "species": rng.choice(["Adelie", "Gentoo", "Chinstrap"], n),
    }


def refused(name: Any, content: bytes) -> str:
    with pytest.raises(UploadError) as caught:
        read_upload(name, content)
    message = str(caught.value)
    assert "\n" not in message
    assert "chainrule-upload" not in message
    assert "/tmp" not in message
    return message


# ---------------------------------------------------------------- formats
def test_csv(columns: dict[str, Any]) -> None:
    table = read_upload("penguins.csv", csv_bytes(columns))
    assert table.name == "penguins.csv"
    assert table.columns == ["length", "depth", "mass", "species"]
    assert table.numeric == ["length", "depth", "mass"]
    assert table.frame.height == 400
    np.testing.assert_allclose(table.frame["length"].to_numpy(), columns["length"])


def test_tsv(columns: dict[str, Any]) -> None:
    table = read_upload("penguins.tsv", csv_bytes(columns, "\t"))
    assert table.columns == ["length", "depth", "mass", "species"]
    assert table.numeric == ["length", "depth", "mass"]
    np.testing.assert_allclose(table.frame["depth"].to_numpy(), columns["depth"])


def test_gzipped_csv(columns: dict[str, Any]) -> None:
    table = read_upload("penguins.csv.gz", gzip.compress(csv_bytes(columns)))
    assert table.numeric == ["length", "depth", "mass"]
    assert table.frame.height == 400
    assert table.frame["species"].to_list() == list(columns["species"])


def test_parquet(columns: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buffer)
    table = read_upload("penguins.parquet", buffer.getvalue())
    assert table.columns == ["length", "depth", "mass", "species"]
    assert table.numeric == ["length", "depth", "mass"]
    np.testing.assert_allclose(table.frame["mass"].to_numpy(), columns["mass"])


def test_the_format_is_told_by_content_not_name(columns: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buffer)
    assert read_upload("data.csv", buffer.getvalue()).frame.height == 400
    assert read_upload("data.parquet", csv_bytes(columns)).frame.height == 400


# ---------------------------------------------------------------- caps and refusals
def test_more_than_five_megabytes_is_refused() -> None:
    content = b"a,b,c\n" + b"1,2,3\n" * (MAX_UPLOAD_BYTES // 6 + 1)
    assert len(content) > MAX_UPLOAD_BYTES
    message = refused("huge.csv", content)
    assert message.startswith("huge.csv:")
    assert "MB" in message


def test_five_megabytes_exactly_are_taken() -> None:
    header = b"a,b,label\n"
    row = b"1,2," + b"x" * 50 + b"\n"
    count = (MAX_UPLOAD_BYTES - len(header)) // len(row)
    rest = MAX_UPLOAD_BYTES - len(header) - count * len(row)
    content = header + row * count + b"1,2," + b"y" * (rest - 5) + b"\n"
    assert len(content) == MAX_UPLOAD_BYTES
    table = read_upload("edge.csv", content)
    assert table.frame.height == count + 1 <= MAX_UPLOAD_ROWS
    assert table.numeric == ["a", "b"]


def test_a_gzip_that_unpacks_to_too_much_is_refused_before_it_is_unpacked() -> None:
    """A zip bomb: 60 MB of CSV in a file of about 60 kB."""
    unpacked = b"a,b,c\n" + b"1,2,0\n" * (10 * 1024 * 1024)
    content = gzip.compress(unpacked, compresslevel=9)
    assert len(content) < 1024 * 1024 < MAX_UNPACKED_BYTES < len(unpacked)
    message = refused("bomb.csv.gz", content)
    assert message.startswith("bomb.csv.gz:") and "unpacks to more than" in message


def test_a_truncated_gzip_is_refused() -> None:
    content = gzip.compress(b"a,b,c\n" + b"1,2,0\n" * 1000)
    message = refused("cut.csv.gz", content[: len(content) // 2])
    assert message.startswith("cut.csv.gz:") and "gzip" in message


def test_a_parquet_file_with_too_many_rows_is_refused() -> None:
    frame = pl.DataFrame({"a": np.zeros(MAX_UPLOAD_ROWS + 1), "b": 1.0, "c": 0})
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    content = buffer.getvalue()
    assert len(content) < MAX_UPLOAD_BYTES
    message = refused("rows.parquet", content)
    assert message.startswith("rows.parquet:") and str(MAX_UPLOAD_ROWS + 1) in message


def test_more_than_100000_rows_is_refused() -> None:
    content = b"a,b,c\n" + b"1,2,0\n" * (MAX_UPLOAD_ROWS + 1)
    assert len(content) < MAX_UPLOAD_BYTES
    message = refused("rows.csv", content)
    assert message.startswith("rows.csv:")
    assert str(MAX_UPLOAD_ROWS + 1) in message
    table = read_upload("fine.csv", b"a,b,c\n" + b"1,2,0\n" * MAX_UPLOAD_ROWS)
    assert table.frame.height == MAX_UPLOAD_ROWS


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"   \n\n", ""),
        (bytes(range(256)) * 40, ""),
        (b"\x00\x01\x02garbage\xff\xfe" * 100, ""),
        (b"PAR1not really parquet", "Parquet"),
        (b"\x1f\x8b\x08\x00broken gzip", "gzip"),
        (b"only\n1\n2\n3\n", "column"),
        (b"a,b\n1,2\n3,4\n", "column"),
        (b"name,colour,label\nx,red,a\ny,blue,b\n", "numeric"),
        (b"a,text,label\n1,red,a\n2,blue,b\n", "numeric"),
        ("a,b,c\n1,2,3\n".encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04zip archive", "zip"),
    ],
    ids=[
        "empty",
        "blank",
        "binary",
        "nul-bytes",
        "bad-parquet",
        "bad-gzip",
        "one-column",
        "two-columns",
        "text-only",
        "one-numeric",
        "utf-16",
        "zip",
    ],
)
def test_unusable_files_are_refused_in_one_line_naming_the_file(content: bytes, words: str) -> None:
    message = refused("my table.csv", content)
    assert message.startswith("my table.csv:"), message
    assert words in message


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("/home/someone/secret/data.csv", "data.csv"),
        ("C:\\Users\\someone\\data.csv", "data.csv"),
        ("bad\x00na\x1bme\n.csv", "badname.csv"),
        ("x" * 200 + ".csv", "x" * 60),
        (None, "the upload"),
        (42, "the upload"),
        ("", "the upload"),
        ("dir/", "the upload"),
    ],
)
def test_only_the_last_part_of_the_name_is_shown(name: Any, shown: str) -> None:
    message = refused(name, b"")
    assert message.startswith(f"{shown}:"), message
    assert "etc" not in message and "someone" not in message
    table = read_upload(name, b"a,b,c\n1,2,x\n3,4,y\n")
    assert table.name == shown


# ---------------------------------------------------------------- columns to points
def test_points_are_standardised_columns(columns: dict[str, Any]) -> None:
    table = read_upload("penguins.csv", csv_bytes(columns))
    points = table.points("length", "mass", "species", 60, 1)
    assert len(points) == 400
    assert points.problem == "classification"
    for k, name in enumerate(("length", "mass")):
        values = np.asarray(columns[name], dtype=np.float64)
        expected = 2 * (values - values.mean()) / values.std()
        np.testing.assert_allclose(points.xy[:, k], expected, rtol=1e-3, atol=1e-3)
        assert abs(points.xy[:, k].mean()) < 1e-6
        assert points.xy[:, k].std() == pytest.approx(2, rel=2e-3)
    # The square the page draws holds every point.
    low, high = points.domain[0], points.domain[1]
    assert low == -high and high >= 6
    assert np.abs(points.xy).max() < high
    assert abs(int((points.part == 0).sum()) - 0.6 * 400) <= 1


def test_classes_come_from_the_label(columns: dict[str, Any]) -> None:
    table = read_upload("penguins.csv", csv_bytes(columns))
    points = table.points("length", "depth", "species", 50, 1)
    assert sorted(points.classes) == ["Adelie", "Chinstrap", "Gentoo"]
    assert points.labels.dtype.kind == "i"
    names = np.array(points.classes)[points.labels]
    assert names.tolist() == list(columns["species"])


def test_a_missing_coordinate_is_filled_with_the_median() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    content = b"x,y,c\n1,0,a\n2,1,b\n3,0,a\n4,1,b\n100,0,a\n,1,b\n"
    points = read_upload("gaps.csv", content).points("x", "y", "c", 50, 1)
    assert len(points) == 6
    assert np.isfinite(points.xy).all()
    # The missing x is the median (3), which sits where the row with x = 3 sits.
    assert points.xy[5, 0] == pytest.approx(points.xy[2, 0], abs=1e-6)
    assert np.argsort(points.xy[:5, 0]).tolist() == np.argsort(values).tolist()


def test_more_than_six_classes_are_refused() -> None:
    rng = np.random.default_rng(1)
    columns = {
        "a": rng.normal(size=70).round(3),
        "b": rng.normal(size=70).round(3),
        "kind": [f"k{i % 7}" for i in range(70)],
    }
    table = read_upload("seven.csv", csv_bytes(columns))
    with pytest.raises(UploadError, match=r"^seven\.csv: label: .*7 classes"):
        table.points("a", "b", "kind", 50, 1)
    six = read_upload("six.csv", csv_bytes({**columns, "kind": [f"k{i % 6}" for i in range(70)]}))
    assert len(six.points("a", "b", "kind", 50, 1).classes) == 6


def test_a_numeric_label_makes_a_regression() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=300).round(4)
    y = rng.normal(size=300).round(4)
    target = (3 * x - y + rng.normal(0, 0.1, 300)).round(4)
    table = read_upload("reg.csv", csv_bytes({"x": x, "y": y, "target": target}))
    points = table.points("x", "y", "target", 50, 1)
    assert points.problem == "regression"
    assert points.classes == []
    assert points.labels.dtype.kind == "f"
    assert np.isfinite(points.labels).all()
    # The labels are the target, row by row (perhaps rescaled, never reordered).
    assert np.corrcoef(points.labels, target)[0, 1] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("x1", "x2", "label", "words"),
    [
        ("species", "depth", "length", "does not hold numbers"),
        ("length", "species", "mass", "does not hold numbers"),
        ("length", "length", "species", "same column"),
        ("length", "depth", "depth", "also an axis"),
        ("length", "nothere", "species", "no column"),
        ("length", "depth", "nothere", "no column"),
        (None, "depth", "species", "no column"),
        (["length"], "depth", "species", "no column"),
        (3, "depth", "species", "no column"),
    ],
)
def test_columns_that_cannot_be_used_are_refused(
    columns: dict[str, Any], x1: Any, x2: Any, label: Any, words: str
) -> None:
    table = read_upload("penguins.csv", csv_bytes(columns))
    with pytest.raises(UploadError) as caught:
        table.points(x1, x2, label, 50, 1)
    message = str(caught.value)
    assert message.startswith("penguins.csv:"), message
    assert words in message
    assert "\n" not in message


def test_a_large_table_is_sampled_to_two_thousand_points() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    x = rng.normal(size=n).round(4)
    y = rng.normal(size=n).round(4)
    label = np.where(x + y > 0, "up", "down")
    table = read_upload("big.csv", csv_bytes({"x": x, "y": y, "side": label}))
    points = table.points("x", "y", "side", 50, 1)
    assert len(points) == 2000
    assert np.isfinite(points.xy).all()
    # Standardisation keeps the order of the values: the side of x + y = 0 survives the
    # positive scale of each axis only if both scales are positive, as they are.
    classes = np.array(points.classes)[points.labels]
    assert len(set(classes)) == 2
    again = table.points("x", "y", "side", 50, 1)
    np.testing.assert_array_equal(again.xy, points.xy)


@pytest.mark.parametrize("value", [b"inf", b"-inf", b"1e308", b"-4e38"])
def test_values_beyond_float32_are_refused_naming_the_file(value: bytes) -> None:
    table = read_upload("../far.csv", b"x,y,c\n" + value + b",1,a\n2,2,b\n3,1,a\n")
    with pytest.raises(UploadError) as caught:
        table.points("x", "y", "c", 50, 1)
    message = str(caught.value)
    assert message.startswith("far.csv:"), message
    assert "'x'" in message
    assert "\n" not in message and "chainrule-upload" not in message
