"""PubTabNet annotation files: stream, write and validate them.

The real PubTabNet jsonl has 568k lines, so everything here streams line by
line.  A bad line never stops a read: it is reported with its line number and
the rest goes on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

from .table import Table, TableError

STRUCTURE_OPEN_CLOSE = {"<thead>": "</thead>", "<tbody>": "</tbody>", "<tr>": "</tr>"}


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield ``(line_number, record, None)`` for each good line, ``(line_number, None, reason)`` for a bad one.

    Raises OSError only if the file itself cannot be opened.
    """
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield line_no, None, "not UTF-8"
                continue
            except json.JSONDecodeError as exc:
                yield line_no, None, f"invalid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(record, dict):
                yield line_no, None, "not a JSON object"
                continue
            yield line_no, record, None


def table_from_record(record: dict[str, Any]) -> Table:
    """A PubTabNet annotation, or a prediction line ``{filename, html: "<table>...", cells: [{bbox}]}``.

    Predictions (what ``tablerec predict -o`` writes) carry HTML rather than
    tokens; their boxes are attached to the cells in document order.
    """
    if isinstance(record.get("html"), str):
        table = Table.from_html(record["html"], str(record.get("filename", "")))
        boxes = [c.get("bbox") if isinstance(c, dict) else None for c in record.get("cells") or []]
        if len(boxes) == len(table.cells):
            for cell, box in zip(table.cells, boxes):
                cell.bbox = tuple(box) if box else None
        return table
    return Table.from_record(record)


def read_tables(path: str | os.PathLike, errors: list[str] | None = None) -> Iterator[Table]:
    """Stream Tables from a PubTabNet jsonl (or predictions, see ``table_from_record``); bad lines are skipped and described in ``errors`` if given."""
    for line_no, record, error in iter_records(path):
        if record is not None:
            try:
                yield table_from_record(record)
                continue
            except TableError as exc:
                error = str(exc)
        if errors is not None:
            errors.append(f"{path}:{line_no}: {error}")


def write_jsonl(tables: Iterable[Table | dict[str, Any]], path: str | os.PathLike) -> int:
    """Write tables (or raw records) as PubTabNet jsonl, atomically; returns the count written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for table in tables:
            record = table.to_record() if isinstance(table, Table) else table
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def load_html_map(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read any of the forms tables are exchanged in, as ``{filename: {"html": str, ...}}``.

    Accepted: PubTabNet jsonl (structure + cells), jsonl lines ``{filename, html}``,
    and json ``{filename: html}`` or ``{filename: {"html": ..., "type": ...}}`` (the
    reference metric's sample files).  Raises ValueError for a file in none of these forms.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16).lstrip()
    if head.startswith(b"{") and _is_single_json(path):
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
        if "html" in data and "filename" in data:  # a one-line jsonl
            data = {data["filename"]: data}
        return {str(k): (v if isinstance(v, dict) else {"html": v}) for k, v in data.items()}
    result: dict[str, dict[str, Any]] = {}
    for line_no, record, error in iter_records(path):
        if record is None or "filename" not in record or "html" not in record:
            raise ValueError(f"{path}:{line_no}: {error or 'line lacks filename/html'}")
        entry = dict(record)
        if isinstance(record["html"], dict):  # PubTabNet annotation: build the HTML
            try:
                entry["html"] = Table.from_record(record).to_html()
            except TableError as exc:
                raise ValueError(f"{path}:{line_no}: {exc}") from None
        result[record["filename"]] = entry
    return result


def _is_single_json(path: str | os.PathLike) -> bool:
    try:
        json.loads(Path(path).read_bytes().decode("utf-8"))
        return True
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


# ---- validation -------------------------------------------------------------------


def validate_table(table: Table, image_size: tuple[int, int] | None = None) -> tuple[list[str], list[str]]:
    """Check one table; returns ``(errors, warnings)``.

    Errors: unbalanced structure, unknown tokens, spans < 1, grid holes or
    overlaps, bboxes outside the image or with x0 >= x1 / y0 >= y1.
    Warnings: ragged rows (real PubTabNet has some).
    """
    errors: list[str] = []
    warnings: list[str] = []
    errors.extend(_structure_problems(table.structure))

    # Grid: every slot covered exactly once; rows of unequal width are only ragged.
    coverage: dict[tuple[int, int], int] = {}
    for cell in table.cells:
        for r in range(cell.row, cell.row + cell.rowspan):
            for c in range(cell.col, cell.col + cell.colspan):
                coverage[(r, c)] = coverage.get((r, c), 0) + 1
    overlaps = sorted(k for k, v in coverage.items() if v > 1)
    if overlaps:
        errors.append(f"cells overlap at (row, col) {overlaps[0]}" + (f" and {len(overlaps) - 1} more" if len(overlaps) > 1 else ""))
    n_rows_declared = table.structure.count("<tr>")
    if table.n_rows > n_rows_declared:
        errors.append(f"rowspan reaches row {table.n_rows} but the table has {n_rows_declared} rows")
    widths = [sum(1 for (r, _c) in coverage if r == row) for row in range(table.n_rows)]
    for row, width in enumerate(widths):
        filled = {c for (r, c) in coverage if r == row}
        if filled and max(filled) + 1 != len(filled):
            errors.append(f"row {row} has a hole in its grid")
            break
    if widths and len(set(widths)) > 1:
        warnings.append(f"ragged rows: widths {sorted(set(widths))}")

    for i, cell in enumerate(table.cells):
        if cell.bbox is None:
            continue
        if len(cell.bbox) != 4:
            errors.append(f"cell {i}: bbox must have 4 numbers")
            continue
        x0, y0, x1, y1 = cell.bbox
        if not (x0 < x1 and y0 < y1):
            errors.append(f"cell {i}: bbox {list(cell.bbox)} needs x0 < x1 and y0 < y1")
        elif image_size is not None:
            w, h = image_size
            if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
                errors.append(f"cell {i}: bbox {list(cell.bbox)} outside the {w}x{h} image")
    return errors, warnings


def _structure_problems(structure: list[str]) -> list[str]:
    stack: list[str] = []
    in_td_opening = False
    for i, token in enumerate(structure):
        if in_td_opening:
            if token == ">":
                in_td_opening = False
                stack.append("</td>")
            elif not (token.startswith(' colspan="') or token.startswith(' rowspan="')):
                return [f"token {i} {token!r} inside a <td opening"]
            continue
        if token in STRUCTURE_OPEN_CLOSE:
            stack.append(STRUCTURE_OPEN_CLOSE[token])
        elif token == "<td>":
            stack.append("</td>")
        elif token == "<td":
            in_td_opening = True
        elif token in ("</thead>", "</tbody>", "</tr>", "</td>"):
            if not stack or stack[-1] != token:
                return [f"token {i} {token!r} closes nothing (expected {stack[-1] if stack else 'no closing tag'})"]
            stack.pop()
        else:
            return [f"token {i} {token!r} is not a structure token"]
    if in_td_opening:
        return ["structure ends inside a <td opening"]
    if stack:
        return [f"structure ends with {stack[-1]!r} missing"]
    return []
