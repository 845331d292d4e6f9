"""Score a prediction file against a ground-truth file: per-table TEDS and TEDS-S, means, breakdowns.

Inputs (both sides accept every form; the format is detected from the content):

* json   ``{filename: html}`` or ``{filename: {"html": html, "type": "simple"|"complex"}}``
  (the reference metric's sample files);
* jsonl  one ``{"filename", "html": html}`` per line, or PubTabNet annotations
  (``html.structure.tokens`` + ``html.cells``), which are turned into HTML
  with :meth:`tablerec.table.Table.to_html`.

Every ground-truth table is scored; a table with no prediction scores 0
(as in the reference).  Bad input never stops a run: unreadable lines and
pairs that cannot be scored are counted and described in the report.
Only a missing or wholly unreadable file raises :class:`EvaluationError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..pubtabnet import iter_records
from ..table import Table, TableError
from .teds import TEDS, run_parallel, worker_state


class EvaluationError(Exception):
    """A problem that stops an evaluation (missing file, no ground truth)."""


@dataclass
class GroundTruth:
    html: str
    kind: str  # "simple" (no spanning cell) or "complex"


@dataclass
class TableScore:
    filename: str
    kind: str
    teds: float | None  # None in a structure-only evaluation
    teds_struct: float
    missing: bool = False  # no prediction for this table: scored 0
    error: str | None = None  # the pair could not be scored: scored 0


@dataclass
class EvaluationReport:
    tables: list[TableScore]
    structure_only: bool = False
    ignore_nodes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # lines or entries that could not be read
    n_extra_predictions: int = 0  # predictions for files not in the ground truth (ignored)

    @property
    def n_missing(self) -> int:
        return sum(t.missing for t in self.tables)

    @property
    def n_failed(self) -> int:
        return sum(t.error is not None for t in self.tables)

    @property
    def mean_teds(self) -> float | None:
        return _mean(t.teds for t in self.tables) if not self.structure_only else None

    @property
    def mean_teds_struct(self) -> float | None:
        return _mean(t.teds_struct for t in self.tables)

    def breakdown(self) -> dict[str, dict[str, Any]]:
        """``{"simple"|"complex": {"count", "teds", "teds_struct"}}`` for the kinds present."""
        result: dict[str, dict[str, Any]] = {}
        for kind in ("simple", "complex"):
            tables = [t for t in self.tables if t.kind == kind]
            if tables:
                result[kind] = {
                    "count": len(tables),
                    "teds": None if self.structure_only else _mean(t.teds for t in tables),
                    "teds_struct": _mean(t.teds_struct for t in tables),
                }
        return result

    def summary(self) -> dict[str, Any]:
        return {
            "tables": len(self.tables),
            "teds": self.mean_teds,
            "teds_struct": self.mean_teds_struct,
            "by_type": self.breakdown(),
            "missing_predictions": self.n_missing,
            "failed": self.n_failed,
            "unreadable": len(self.unreadable),
            "extra_predictions": self.n_extra_predictions,
            "structure_only": self.structure_only,
            "ignore_nodes": self.ignore_nodes,
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready: summary, per-table scores, unreadable input."""
        tables = {}
        for t in self.tables:
            entry: dict[str, Any] = {"type": t.kind, "teds_struct": t.teds_struct}
            if not self.structure_only:
                entry["teds"] = t.teds
            if t.missing:
                entry["missing"] = True
            if t.error:
                entry["error"] = t.error
            tables[t.filename] = entry
        return {"summary": self.summary(), "tables": tables, "unreadable": self.unreadable}

    def format(self) -> str:
        """A short human-readable summary."""
        lines = [f"tables: {len(self.tables)}"]
        metrics = [("TEDS-S", "teds_struct")] if self.structure_only else [("TEDS", "teds"), ("TEDS-S", "teds_struct")]
        by_type = self.breakdown()
        for label, key in metrics:
            overall = self.summary()[key]
            parts = [f"{label:<7}{_fmt(overall)}"]
            parts += [f"{kind} {_fmt(stats[key])} ({stats['count']})" for kind, stats in by_type.items()]
            lines.append("   ".join(parts))
        lines.append(
            f"missing predictions: {self.n_missing} (scored 0); failed: {self.n_failed} (scored 0); "
            f"unreadable lines: {len(self.unreadable)}"
        )
        if self.n_extra_predictions:
            lines.append(f"predictions without ground truth (ignored): {self.n_extra_predictions}")
        return "\n".join(lines)


def _mean(values: Iterable[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# ---- running -------------------------------------------------------------------------


def evaluate_files(
    pred_path: str | os.PathLike,
    gt_path: str | os.PathLike,
    structure_only: bool = False,
    ignore_nodes: Iterable[str] | None = None,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> EvaluationReport:
    """Load both files and score every ground-truth table (see the module docstring)."""
    truths, gt_problems = load_ground_truth(gt_path)
    if not truths:
        detail = f" ({gt_problems[0]})" if gt_problems else ""
        raise EvaluationError(f"no readable ground-truth tables in {gt_path}{detail}")
    predictions, pred_problems = load_predictions(pred_path)
    report = evaluate(predictions, truths, structure_only, ignore_nodes, n_jobs, progress)
    report.unreadable = gt_problems + pred_problems
    return report


def evaluate(
    predictions: dict[str, str],
    truths: dict[str, GroundTruth],
    structure_only: bool = False,
    ignore_nodes: Iterable[str] | None = None,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> EvaluationReport:
    """Score ``{filename: html}`` predictions against ground truth; a missing prediction scores 0."""
    ignore = [ignore_nodes] if isinstance(ignore_nodes, str) else list(ignore_nodes or [])
    full = None if structure_only else TEDS(ignore_nodes=ignore)
    struct = TEDS(structure_only=True, ignore_nodes=ignore)
    filenames = list(truths)
    pairs = [(predictions.get(name, ""), truths[name].html) for name in filenames]
    results = run_parallel(_score_pair_both, pairs, n_jobs, initargs=(full, struct), desc="eval", progress=progress)
    tables = [
        TableScore(name, truths[name].kind, teds, teds_struct, missing=name not in predictions, error=error)
        for name, (teds, teds_struct, error) in zip(filenames, results)
    ]
    extra = sum(1 for name in predictions if name not in truths)
    return EvaluationReport(tables, structure_only, ignore, n_extra_predictions=extra)


def _score_pair_both(pair: tuple[str, str]) -> tuple[float | None, float, str | None]:
    """(TEDS or None, TEDS-S, error) for one pair; runs in a worker process."""
    full, struct = worker_state()
    teds_struct, error = struct.evaluate_safely(*pair)
    teds = None
    if full is not None:
        teds, full_error = full.evaluate_safely(*pair)
        error = error or full_error
    return teds, teds_struct, error


# ---- loading ---------------------------------------------------------------------------


def load_predictions(path: str | os.PathLike) -> tuple[dict[str, str], list[str]]:
    """``({filename: html}, problems)`` from any accepted form; a bad entry is a problem, not a stop."""
    predictions: dict[str, str] = {}
    problems: list[str] = []
    for where, filename, value, _kind in _iter_entries(path, problems):
        html = _entry_html(value, where, problems)
        if html is not None:
            if filename in predictions:
                problems.append(f"{where}: duplicate prediction for {filename}; keeping the first")
                continue
            predictions[filename] = html
    return predictions, problems


def load_ground_truth(path: str | os.PathLike) -> tuple[dict[str, GroundTruth], list[str]]:
    """``({filename: GroundTruth}, problems)``; the type comes from the entry's "type", else from its spans."""
    truths: dict[str, GroundTruth] = {}
    problems: list[str] = []
    for where, filename, value, kind in _iter_entries(path, problems):
        html = _entry_html(value, where, problems)
        if html is None:
            continue
        if filename in truths:
            problems.append(f"{where}: duplicate ground truth for {filename}; keeping the first")
            continue
        if kind not in ("simple", "complex"):
            kind = "complex" if _html_has_spans(html) else "simple"
        truths[filename] = GroundTruth(html, kind)
    return truths, problems


def _iter_entries(path: str | os.PathLike, problems: list[str]) -> Iterator[tuple[str, str, Any, Any]]:
    """(where, filename, html-or-record, type) for each entry of a json or jsonl file."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"no such file: {path}")
    mapping = _read_json_mapping(path)
    if mapping is not None:
        for filename, value in mapping.items():
            kind = value.get("type") if isinstance(value, dict) else None
            yield f"{path} [{filename!r}]", str(filename), value, kind
        return
    try:
        for line_no, record, error in iter_records(path):
            where = f"{path}:{line_no}"
            if record is None:
                problems.append(f"{where}: {error}")
            elif not isinstance(record.get("filename"), str) or "html" not in record:
                problems.append(f"{where}: line lacks \"filename\" or \"html\"")
            else:
                yield where, record["filename"], record, record.get("type")
    except OSError as exc:
        raise EvaluationError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_json_mapping(path: Path) -> dict[str, Any] | None:
    """The file as one JSON object mapping filenames to entries, or None if it is jsonl.

    jsonl is recognised by its first non-empty line being a whole object with
    "filename", so a large jsonl file is never read whole here.  A file that
    is neither (say, jsonl with a broken first line) is read as jsonl, whose
    reader reports the bad lines.
    """
    try:
        with open(path, "rb") as f:
            first_line = next((raw for raw in f if raw.strip()), b"")
        try:
            first = json.loads(first_line.decode("utf-8"))
            if isinstance(first, dict) and "filename" in first:
                return None
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    except OSError as exc:
        raise EvaluationError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise EvaluationError(f"{path}: expected a JSON object {{filename: html}} or jsonl, got a JSON {type(data).__name__}")
    return data


def _entry_html(value: Any, where: str, problems: list[str]) -> str | None:
    """The HTML of an entry: a string, ``{"html": str}``, or a PubTabNet record / ``{"html": {structure, cells}}``."""
    if isinstance(value, dict):
        inner = value.get("html")
        if isinstance(inner, dict):
            try:
                return Table.from_record({"html": inner}).to_html()
            except TableError as exc:
                problems.append(f"{where}: {exc}")
                return None
        value = inner
    if isinstance(value, str):
        return value
    problems.append(f"{where}: html is {type(value).__name__}, not a string")
    return None


def _html_has_spans(html: str) -> bool:
    """True if any cell of the table spans more than one row or column."""
    from lxml import etree
    from lxml import html as lxml_html

    if not html or not html.strip():
        return False
    try:
        root = lxml_html.fromstring(html)
    except (etree.LxmlError, ValueError):
        return False
    for cell in root.iter("td", "th"):
        for name in ("colspan", "rowspan"):
            try:
                if int(cell.get(name, "1")) > 1:
                    return True
            except ValueError:
                continue
    return False
