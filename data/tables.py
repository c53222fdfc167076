"""Bring-your-own data: CSV, TSV or Parquet files with a text column and a label column."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import DataError


@dataclass
class Table:
    """Rows read from one file. `problems` holds "file:line: reason" for each skipped row."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


MISSING_LABELS = {"", "nan", "none", "null", "na", "n/a"}
CSV_FIELD_LIMIT = 1 << 30  # a news article can be far longer than csv's default 128 KB field


def read_table(path: str | Path, text_column: str, label_column: str) -> Table:
    """Read a labelled text file; malformed rows are reported (file, line), counted, skipped.

    Rows whose label is missing ("", NaN, None, null) are skipped and counted, never made a class.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}; check --train-file/--test-file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = _read_parquet(path, text_column, label_column)
    elif suffix in (".csv", ".tsv", ".txt"):
        table = _read_delimited(path, text_column, label_column, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv or .parquet")
    for problem in table.problems[:20]:
        print(f"rnn-tune: skipped malformed row {problem}", file=sys.stderr)
    if len(table.problems) > 20:
        print(
            f"rnn-tune: ... {len(table.problems) - 20} more malformed rows in {path}",
            file=sys.stderr,
        )
    if not table.texts:
        raise DataError(
            f"{path}: no usable rows ({len(table.problems)} malformed); check "
            "--text-column/--label-column"
        )
    return table


def _check_columns(path: Path, columns: list[str], text_column: str, label_column: str) -> None:
    for flag, column in (("--text-column", text_column), ("--label-column", label_column)):
        if column not in columns:
            raise DataError(
                f"{path}: no column {column!r} (columns: {', '.join(columns)}); set {flag}"
            )


def _read_delimited(path: Path, text_column: str, label_column: str, delimiter: str) -> Table:
    table = Table()
    rows = csv_rows(path, delimiter)
    _, header = next(rows, (0, None))
    if header is None:
        raise DataError(f"{path}: empty file; a header row naming the columns is needed")
    _check_columns(path, header, text_column, label_column)
    ti, li = header.index(text_column), header.index(label_column)
    for line, row in rows:
        if not row:
            continue
        problem = _row_problem(row, len(header), ti, li)
        if problem:
            table.problems.append(f"{path}:{line}: {problem}")
            continue
        table.texts.append(row[ti])
        table.labels.append(row[li].strip())
    return table


def csv_rows(
    path: Path, delimiter: str = ",", hint: str = "is it a CSV/TSV text file?"
) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a UTF-8 CSV/TSV file, long fields allowed; a file that is not
    such text ends in one DataError naming it (`hint` says what to check)."""
    refuse_binary(path)
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            for row in reader:
                yield reader.line_num, row
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from None
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: {exc}; {hint}") from None


def refuse_binary(path: Path) -> None:
    """Text files hold no NUL bytes; UTF-16 (which does) gets the encoding message instead."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(
            f"{path}: UTF-16 text, not UTF-8; save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8"
        )
    if b"\x00" in head:
        raise DataError(f"{path}: binary data (NUL bytes), not a CSV/TSV text file")


def open_text(path: Path):
    """UTF-8 text, a byte-order mark at the start dropped (as spreadsheet programs write it)."""
    return open(path, encoding="utf-8-sig", newline="")


def not_utf8(path: Path, exc: UnicodeDecodeError) -> DataError:
    return DataError(
        f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8, e.g. "
        f"iconv -f UTF-16 -t UTF-8"
    )


def _row_problem(row: list[str], width: int, ti: int, li: int) -> str | None:
    if len(row) != width:
        return f"{len(row)} fields, expected {width}"
    if row[li].strip().lower() in MISSING_LABELS:
        return "missing label"
    if not row[ti].strip():
        return "empty text"
    return None


def _read_parquet(path: Path, text_column: str, label_column: str) -> Table:
    import pyarrow.parquet as pq

    try:
        pa_table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    _check_columns(path, pa_table.column_names, text_column, label_column)
    table = Table()
    texts = pa_table.column(text_column).to_pylist()
    labels = pa_table.column(label_column).to_pylist()
    for row_number, (text, label) in enumerate(zip(texts, labels), start=1):
        name = _label_text(path, label_column, label)
        if name is None:
            table.problems.append(f"{path}:row {row_number}: missing label")
        elif text is None or not str(text).strip():
            table.problems.append(f"{path}:row {row_number}: empty text")
        else:
            table.texts.append(str(text))
            table.labels.append(name)
    return table


def _label_text(path: Path, column: str, label: object) -> str | None:
    """A Parquet label as its class name; None when missing. Lists and fractions are refused."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return None
    if isinstance(label, float):
        if not label.is_integer():
            raise DataError(
                f"{path}: label column {column!r} holds fractions ({label:g}); labels must be "
                "class ids or names, not scores"
            )
        label = int(label)
    if not isinstance(label, (str, int)):
        raise DataError(
            f"{path}: label column {column!r} holds {type(label).__name__} values; labels must "
            "be integers or strings (one class per row)"
        )
    text = str(label).strip()
    return None if text.lower() in MISSING_LABELS else text


def label_names(*label_lists: list[str]) -> list[str]:
    """Class names in a stable order: numerically when every label is an integer, else sorted."""
    names = set().union(*map(set, label_lists))
    if all(_is_int(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
