"""Table and Cell: the one in-memory form of a table that every part of tablerec shares.

A table is held the way PubTabNet annotates it: a list of HTML *structure tokens*
(``<thead>``, ``<tr>``, ``<td>``, ``<td``, `` colspan="2"``, ``>``, ``</td>`` ...) and
one cell per ``<td>``/``<td`` opening, each with its content tokens (single
characters, plus inline tags such as ``<b>`` as single tokens) and an optional
bbox.  From the structure we derive the logical grid (row, column, spans).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

# Inline tags kept as markup inside cells; PubTabNet stores them as single tokens.
INLINE_TAGS = ("b", "i", "sup", "sub", "u", "strike", "overline", "underline")
INLINE_TAG_TOKENS = frozenset(f"<{t}>" for t in INLINE_TAGS) | frozenset(f"</{t}>" for t in INLINE_TAGS)
_TAG_ALIASES = {"strong": "b", "em": "i"}
_SPAN_TOKEN = re.compile(r'^ (colspan|rowspan)="(\d+)"$')


class TableError(ValueError):
    """A table whose structure cannot be understood (unbalanced, spans < 1, ...)."""


@dataclass
class Cell:
    tokens: list[str] = field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = None
    # Logical grid position, filled in by Table from the structure tokens.
    row: int = 0
    col: int = 0
    rowspan: int = 1
    colspan: int = 1
    header: bool = False

    @property
    def text(self) -> str:
        """Plain text of the cell, inline tags dropped."""
        return "".join(t for t in self.tokens if t not in INLINE_TAG_TOKENS)

    @property
    def html(self) -> str:
        """Cell content as HTML: characters escaped, inline tag tokens kept as markup."""
        return "".join(t if t in INLINE_TAG_TOKENS else html_lib.escape(t, quote=False) for t in self.tokens)


@dataclass
class Table:
    structure: list[str]
    cells: list[Cell]
    filename: str = ""
    split: str = ""
    # Anything else the record carried (imgid, synthetic style parameters, ...), written back untouched.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n_openings = sum(1 for t in self.structure if t in ("<td>", "<td"))
        if n_openings != len(self.cells):
            raise TableError(f"{n_openings} cell openings in the structure but {len(self.cells)} cells")
        for cell, (row, col, rowspan, colspan, header) in zip(self.cells, logical_grid(self.structure)):
            cell.row, cell.col, cell.rowspan, cell.colspan, cell.header = row, col, rowspan, colspan, header

    # ---- shape -------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return max((c.row + c.rowspan for c in self.cells), default=0)

    @property
    def n_cols(self) -> int:
        return max((c.col + c.colspan for c in self.cells), default=0)

    @property
    def has_spans(self) -> bool:
        return any(c.rowspan > 1 or c.colspan > 1 for c in self.cells)

    # ---- PubTabNet records ---------------------------------------------------
    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Table":
        """Build from one PubTabNet annotation (accepts ``cells`` (2.0) and ``cell``)."""
        try:
            html_part = record["html"]
            structure = list(html_part["structure"]["tokens"])
            raw_cells = html_part["cells"] if "cells" in html_part else html_part["cell"]
        except (KeyError, TypeError) as exc:
            raise TableError(f"not a PubTabNet record: missing {exc}") from None
        cells = []
        for raw in raw_cells:
            bbox = raw.get("bbox")
            cells.append(Cell(tokens=list(raw.get("tokens", [])), bbox=tuple(bbox) if bbox else None))
        extra = {k: v for k, v in record.items() if k not in ("filename", "split", "html")}
        return cls(structure, cells, record.get("filename", ""), record.get("split", ""), extra)

    def to_record(self) -> dict[str, Any]:
        cells = []
        for c in self.cells:
            raw: dict[str, Any] = {"tokens": list(c.tokens)}
            if c.bbox is not None:
                raw["bbox"] = list(c.bbox)
            cells.append(raw)
        record: dict[str, Any] = {"filename": self.filename, "split": self.split}
        record.update(self.extra)
        record["html"] = {"structure": {"tokens": list(self.structure)}, "cells": cells}
        return record

    # ---- HTML ------------------------------------------------------------------
    def to_html(self, wrap: bool = True) -> str:
        """The table as HTML; ``wrap`` adds ``<html><body><table>`` as PubTabNet's metric expects."""
        parts: list[str] = []
        cell_iter = iter(self.cells)
        for i, token in enumerate(self.structure):
            parts.append(token)
            opens_content = token == "<td>" or (token == ">" and _inside_td_opening(self.structure, i))
            if opens_content:
                parts.append(next(cell_iter).html)
        body = "".join(parts)
        return f"<html><body><table>{body}</table></body></html>" if wrap else f"<table>{body}</table>"

    @classmethod
    def from_html(cls, html: str, filename: str = "") -> "Table":
        """Parse any table HTML (thead/tbody, th, spans, inline markup) into a Table."""
        return html_to_table(html, filename)


def _inside_td_opening(structure: list[str], i: int) -> bool:
    """True if the ``>`` at position i closes a ``<td`` opening (possibly after span attributes)."""
    j = i - 1
    while j >= 0 and _SPAN_TOKEN.match(structure[j]):
        j -= 1
    return j >= 0 and structure[j] == "<td"


def logical_grid(structure: Iterable[str]) -> list[tuple[int, int, int, int, bool]]:
    """(row, col, rowspan, colspan, in_thead) for each cell opening, in order.

    Columns are assigned left to right, skipping slots already covered by a
    rowspan from a row above, as a browser lays out a table.
    """
    occupied: set[tuple[int, int]] = set()
    result: list[tuple[int, int, int, int, bool]] = []
    row = -1
    col = 0
    in_head = False
    pending: list[int] | None = None  # [rowspan, colspan] while inside a "<td" opening
    for token in structure:
        if token == "<thead>":
            in_head = True
        elif token == "</thead>":
            in_head = False
        elif token == "<tr>":
            row += 1
            col = 0
        elif token in ("<td>", "<td"):
            if row < 0:
                raise TableError("cell outside any <tr>")
            if token == "<td>":
                _place(occupied, result, row, col, 1, 1, in_head)
            else:
                pending = [1, 1]
        elif pending is not None and (m := _SPAN_TOKEN.match(token)):
            value = int(m.group(2))
            if value < 1:
                raise TableError(f"span {value} < 1")
            pending[0 if m.group(1) == "rowspan" else 1] = value
        elif token == ">" and pending is not None:
            _place(occupied, result, row, col, pending[0], pending[1], in_head)
            pending = None
    return result


def _place(occupied: set, result: list, row: int, col: int, rowspan: int, colspan: int, in_head: bool) -> None:
    # The caller's column is only a lower bound: skip slots taken by rowspans from above.
    while (row, col) in occupied:
        col += 1
    start = col
    while any((row, c) in occupied for c in range(start, start + colspan)):
        start += 1
    for r in range(row, row + rowspan):
        for c in range(start, start + colspan):
            occupied.add((r, c))
    result.append((row, start, rowspan, colspan, in_head))


# ---- HTML -> Table -----------------------------------------------------------------


def html_to_table(html: str, filename: str = "") -> Table:
    """Parse table HTML with lxml into structure and cell tokens (th becomes td, like PubTabNet)."""
    from lxml import etree, html as lxml_html

    if not html or not html.strip():
        raise TableError("empty HTML")
    try:
        root = lxml_html.fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise TableError(f"unparsable HTML: {exc}") from None
    table = root if root.tag == "table" else root.find(".//table")
    if table is None:
        raise TableError("no <table> element in the HTML")

    structure: list[str] = []
    cells: list[Cell] = []

    def add_row(tr) -> None:
        structure.append("<tr>")
        for cell_el in tr:
            if not isinstance(cell_el.tag, str) or cell_el.tag not in ("td", "th"):
                continue
            spans = []
            for attr in ("rowspan", "colspan"):
                value = _int_attr(cell_el.get(attr))
                if value > 1:
                    spans.append(f' {attr}="{value}"')
            structure.extend(["<td", *spans, ">"] if spans else ["<td>"])
            structure.append("</td>")
            cells.append(Cell(tokens=cell_tokens(cell_el)))
        structure.append("</tr>")

    for child in table:
        if not isinstance(child.tag, str):
            continue
        if child.tag in ("thead", "tbody", "tfoot"):
            section = "thead" if child.tag == "thead" else "tbody"
            structure.append(f"<{section}>")
            for tr in child:
                if tr.tag == "tr":
                    add_row(tr)
            structure.append(f"</{section}>")
        elif child.tag == "tr":
            add_row(child)
    return Table(structure, cells, filename=filename)


def _int_attr(value: str | None) -> int:
    try:
        return max(1, int(str(value).strip())) if value is not None else 1
    except ValueError:
        return 1


def cell_tokens(element) -> list[str]:
    """Content tokens of a td/th element: characters, inline tags as single tokens."""
    tokens: list[str] = list(element.text or "")
    for child in element:
        if isinstance(child.tag, str):
            tag = _TAG_ALIASES.get(child.tag.lower(), child.tag.lower())
            if tag == "br":
                tokens.append(" ")  # a line break inside a cell reads as a space
            elif tag in INLINE_TAGS:
                tokens.append(f"<{tag}>")
                tokens.extend(cell_tokens(child))
                tokens.append(f"</{tag}>")
            else:  # span, strong, a, ... keep the text, drop the markup
                tokens.extend(cell_tokens(child))
        tokens.extend(child.tail or "")
    return tokens
