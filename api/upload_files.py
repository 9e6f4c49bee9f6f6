"""Reading a researcher's own patient list (CSV or XLSX) into identifiers and per-patient columns.

Why a reader of its own, strict and streaming: the file comes from outside (a spreadsheet someone
exported), holds up to :data:`MAX_ROWS` hospital identifiers, and must be either read whole and right
or refused whole — a half-read list would silently change a cohort. So every problem is an
:class:`UploadFileError` with a stable ``code`` and the row number a person sees in their spreadsheet
(the header is row 1), and never the cell's value: the cells are identifiers. Rows are read one at a
time (``csv`` over a text stream, ``openpyxl`` in read-only mode), never the whole file into memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

#: Rows of data (the header not counted) one list may hold.
MAX_ROWS = 100_000
#: Bytes one uploaded file may have (a 100,000-row list with a few columns is a few MB).
MAX_BYTES = 20 * 1024 * 1024
#: Characters one identifier may have.
MAX_ID_CHARS = 64
#: The number column's values stay within the spec's value bounds (``cohort_engine.spec``).
MAX_ABS_VALUE = 1e12
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls (and other OLE files)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Error codes (each a kind of bad file; the tests name every one).
ERROR_CODES = (
    "empty_file",
    "file_too_large",
    "unknown_format",
    "legacy_xls",
    "bad_encoding",
    "bad_csv",
    "corrupt_xlsx",
    "several_sheets",
    "unknown_sheet",
    "header_missing",
    "duplicate_header",
    "missing_column",
    "no_rows",
    "too_many_rows",
    "ragged_row",
    "empty_id",
    "bad_id",
    "duplicate_id",
    "bad_value",
    "bad_date",
    "formula_cell",
    "duplicate_person",
)


class UploadFileError(ValueError):
    """A file that cannot be read as a list: ``code`` (see :data:`ERROR_CODES`) and a message for a
    person, naming rows and columns but never a cell's value."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Columns:
    """Which header names hold the identifier and the optional per-patient columns."""

    id_column: str
    value_column: str | None = None
    date_column: str | None = None


@dataclass
class ParsedList:
    """The identifiers of a file in row order, with their row numbers and own columns."""

    ids: list[str] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    dates: list[date | None] = field(default_factory=list)


def file_format(head: bytes, filename: str) -> str:
    """``csv`` or ``xlsx``, from the file's first bytes and its name; anything else is refused."""
    name = filename.lower()
    if head.startswith(_OLE_MAGIC) or name.endswith(".xls"):
        raise UploadFileError(
            "legacy_xls", "Old Excel (.xls) files are not read; save the sheet as .xlsx or as UTF-8 CSV."
        )
    text_name = name.endswith((".csv", ".txt", ".tsv"))
    if head.startswith(_XLSX_MAGIC) and not text_name:
        return "xlsx"
    if text_name and not head.startswith(_XLSX_MAGIC):
        return "csv"
    if name.endswith((".xlsx", ".xlsm")):
        raise UploadFileError(
            "corrupt_xlsx", "The workbook cannot be opened (damaged, or not really .xlsx); save it again."
        )
    raise UploadFileError(
        "unknown_format",
        "The file is neither a CSV (.csv, UTF-8 text) nor an Excel workbook (.xlsx); send one of those.",
    )


def read_list(
    stream: IO[bytes],
    filename: str,
    columns: Columns,
    *,
    sheet: str | None = None,
    encoding: str = "utf-8",
) -> ParsedList:
    """Read the whole list or raise :class:`UploadFileError` (nothing partial comes back)."""
    return _collect(read_rows(stream, filename, sheet=sheet, encoding=encoding), columns)


def read_rows(
    stream: IO[bytes], filename: str, *, sheet: str | None = None, encoding: str = "utf-8"
) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of a CSV or XLSX file, header first, after the size and format checks."""
    head = stream.read(8)
    if not head:
        raise UploadFileError("empty_file", "The file is empty; send a CSV or XLSX with a header row.")
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    if size > MAX_BYTES:
        raise UploadFileError(
            "file_too_large",
            f"The file has {size:,} bytes; at most {MAX_BYTES:,} are read. Split the list or drop "
            "columns that are not needed.",
            status=413,
        )
    kind = file_format(head, filename)
    return _csv_rows(stream, encoding) if kind == "csv" else _xlsx_rows(stream, sheet)


def _csv_rows(stream: IO[bytes], encoding: str) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of a CSV, decoded strictly; the delimiter (comma, semicolon, tab) is the
    header line's."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UploadFileError(
            "bad_encoding", "Unknown text encoding; use utf-8 (the default) or cp949."
        ) from None
    lines = _numbered_lines(stream, encoding)
    first = next(lines, None)
    if first is None:
        raise UploadFileError("empty_file", "The file is empty; send a CSV or XLSX with a header row.")
    delimiter = max((",", ";", "\t"), key=first[1].count)
    reader = csv.reader((line for _, line in _chain(first, lines)), delimiter=delimiter, strict=True)
    row = 0
    try:
        for cells in reader:
            row += 1
            yield row, cells
    except csv.Error:
        raise UploadFileError(
            "bad_csv",
            f"Row {row + 1} is not valid CSV (an unclosed quote?); fix the row and send it again.",
        ) from None


def _numbered_lines(stream: IO[bytes], encoding: str) -> Iterator[tuple[int, str]]:
    """Decoded lines, one at a time, so that a decoding error names its row (a newline byte never
    occurs inside a UTF-8 or CP949 character, so splitting before decoding is safe)."""
    for n, raw in enumerate(stream, start=1):
        if n == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield n, raw.decode(encoding, errors="strict")
        except UnicodeDecodeError:
            raise UploadFileError(
                "bad_encoding",
                f"Row {n} is not valid {encoding.upper()} text; save the file as UTF-8 CSV (or send "
                "encoding=cp949 for a Korean Excel CSV).",
            ) from None


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _xlsx_rows(stream: IO[bytes], sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # only for XLSX uploads

    try:
        wb = load_workbook(stream, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError):
        raise UploadFileError(
            "corrupt_xlsx", "The workbook cannot be opened (damaged, or not really .xlsx); save it again."
        ) from None
    try:
        if sheet is None and len(wb.sheetnames) > 1:
            raise UploadFileError(
                "several_sheets",
                f"The workbook has {len(wb.sheetnames)} sheets; say which one holds the list (sheet=…): "
                + ", ".join(wb.sheetnames[:10])
                + ".",
            )
        if sheet is not None and sheet not in wb.sheetnames:
            raise UploadFileError(
                "unknown_sheet",
                "The workbook has no sheet of that name: " + ", ".join(wb.sheetnames[:10]) + ".",
            )
        ws = wb[sheet] if sheet is not None else wb[wb.sheetnames[0]]
        for n, cells in enumerate(ws.iter_rows(), start=1):
            values = []
            for c in cells:
                if getattr(c, "data_type", None) == "f":
                    letter = getattr(c, "column_letter", "?")
                    raise UploadFileError(
                        "formula_cell",
                        f"Row {n}, column {letter} holds a formula; formulas are not evaluated. Paste the "
                        "sheet as values and send it again.",
                    )
                values.append(c.value)
            yield n, values
    finally:
        wb.close()


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an MRN typed as a number in Excel
    return str(value).strip()


def header(rows: Iterator[tuple[int, list[Any]]]) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise UploadFileError("empty_file", "The file is empty; send a CSV or XLSX with a header row.")
    names = [cell_text(v) for v in first[1]]
    while names and not names[-1]:
        names.pop()
    if not names or not any(names):
        raise UploadFileError(
            "header_missing",
            "Row 1 must name the columns (e.g. mrn,label,date); it is empty. Add a header row.",
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name and name in seen:
            raise UploadFileError(
                "duplicate_header", f"Columns {seen[name]} and {i} of row 1 have the same name; rename one."
            )
        seen[name] = i
    return names


def column(names: list[str], wanted: str, what: str) -> int:
    if wanted in names:
        return names.index(wanted)
    shown = ", ".join(n for n in names[:20] if n)
    raise UploadFileError(
        "missing_column",
        f"The header has no {what} column named “{wanted}”; its columns are: {shown}.",
    )


def _collect(rows: Iterator[tuple[int, list[Any]]], columns: Columns) -> ParsedList:
    names = header(rows)
    id_at = column(names, columns.id_column, "identifier")
    value_at = column(names, columns.value_column, "value") if columns.value_column else None
    date_at = column(names, columns.date_column, "date") if columns.date_column else None
    out = ParsedList()
    first_row: dict[str, int] = {}
    for n, cells in rows:
        if not any(cell_text(c) for c in cells):
            continue  # a blank line (e.g. at the end of a CSV) is not a row
        if len(out.ids) >= MAX_ROWS:
            raise UploadFileError(
                "too_many_rows", f"The list has more than {MAX_ROWS:,} rows (row {n}); split it.", status=413
            )
        if any(cell_text(c) for c in cells[len(names) :]):
            raise UploadFileError(
                "ragged_row", f"Row {n} has more cells than the header names ({len(names)}); fix the row."
            )
        ident = cell_text(cells[id_at]) if id_at < len(cells) else ""
        if not ident:
            raise UploadFileError("empty_id", f"Row {n} has no identifier in column “{columns.id_column}”.")
        if len(ident) > MAX_ID_CHARS or _CONTROL.search(ident):
            raise UploadFileError(
                "bad_id",
                f"Row {n}: the identifier is longer than {MAX_ID_CHARS} characters or holds control "
                "characters; it cannot be an MRN or a pseudonym.",
            )
        if ident in first_row:
            raise UploadFileError(
                "duplicate_id",
                f"Rows {first_row[ident]} and {n} have the same identifier; keep one row each.",
            )
        first_row[ident] = n
        out.ids.append(ident)
        out.row_numbers.append(n)
        if value_at is not None:
            out.values.append(_number(cells[value_at] if value_at < len(cells) else None, n, columns))
        if date_at is not None:
            out.dates.append(_date(cells[date_at] if date_at < len(cells) else None, n, columns))
    if not out.ids:
        raise UploadFileError("no_rows", "The file has a header but no rows of patients.")
    return out


def _number(cell: Any, n: int, columns: Columns) -> float | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    try:
        value = float(cell) if not isinstance(cell, bool) else float("nan")
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        raise UploadFileError(
            "bad_value",
            f"Row {n}: column “{columns.value_column}” must hold a number (e.g. 1, 0.75) within "
            f"±{MAX_ABS_VALUE:g}, or be empty.",
        )
    return value


def _date(cell: Any, n: int, columns: Columns) -> date | None:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = str(cell).strip()
    try:
        if not _DATE_RE.match(text):
            raise ValueError
        day = date.fromisoformat(text)
        if not 1800 <= day.year <= 2200:
            raise ValueError
    except ValueError:
        raise UploadFileError(
            "bad_date",
            f"Row {n}: column “{columns.date_column}” must hold a date as YYYY-MM-DD (1800–2200), or be "
            "empty.",
        ) from None
    return day
