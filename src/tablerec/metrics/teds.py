"""TEDS (Tree-Edit-Distance-based Similarity) with exactly the scores of PubTabNet's reference.

Drop-in for the reference ``src/metric.py``: same class, arguments and
methods.  What is the same, on purpose:

* HTML is parsed with ``lxml.html.fromstring`` and an ``HTMLParser`` that
  removes comments; both documents need ``body/table`` (a bare ``<table>``
  without ``<html><body>`` scores 0), and an empty input scores 0.
* ``ignore_nodes`` tags are stripped (their content kept) before anything else.
* The tree has one node per element under the table; a ``td`` node carries
  (colspan, rowspan, content tokens) and does not recurse, every other
  element (``th`` included) recurses.  Content tokens are ``<tag>``, the
  characters of text, ``</tag>`` and the characters of tails, as the
  reference tokenizer emits them.
* Renaming costs 1 if tag, colspan or rowspan differ, else for ``td`` the
  Levenshtein distance of the contents over the longer length, else 0;
  inserting or deleting a node costs 1.
* score = 1 - TED / max(#elements under each table).

What is faster: cell distances come from one ``rapidfuzz`` cdist call (tokens
mapped to single characters so ``<b>`` counts as one), and the tree edit
distance is the NumPy-vectorised Zhang–Shasha in ``tree_edit.py``.

Where the reference crashes, this module instead: scores whitespace-only
input 0 like empty input, returns 1.0 for two tables that both have no
elements inside (the reference divides by zero), and raises
:class:`TEDSInputError` (a ValueError) for HTML lxml cannot parse, a ``td``
span that is not an integer, or a pair too large to compare in memory.
``ignore_nodes="sup"`` strips ``<sup>`` (the reference would strip s, u and p).
"""

from __future__ import annotations

import multiprocessing
import sys
import warnings
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import numpy as np
from lxml import etree
from lxml import html as lxml_html
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .tree_edit import TreeTooLargeError, tree_edit_distance

# Node pairs one comparison may hold in memory (about 40 bytes each): 16M pairs
# is two tables of ~4000 elements (~3500 cells) each, about 0.6 GB.
MAX_NODE_PAIRS = 16_000_000


class TEDSInputError(ValueError):
    """An input pair the metric cannot score (the reference would crash on it)."""


class TEDS:
    """Tree-Edit-Distance-based Similarity between a predicted and a true table's HTML."""

    def __init__(self, structure_only: bool = False, n_jobs: int = 1, ignore_nodes: str | Iterable[str] | None = None) -> None:
        if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1:
            raise ValueError(f"n_jobs must be an integer >= 1, not {n_jobs!r}")
        self.structure_only = bool(structure_only)
        self.n_jobs = n_jobs
        if isinstance(ignore_nodes, str):
            ignore_nodes = [ignore_nodes]
        self.ignore_nodes: tuple[str, ...] = tuple(ignore_nodes) if ignore_nodes else ()
        for tag in self.ignore_nodes:
            if not isinstance(tag, str) or not tag:
                raise ValueError(f"ignore_nodes must be tag names, not {tag!r}")

    def __repr__(self) -> str:
        return f"TEDS(structure_only={self.structure_only}, n_jobs={self.n_jobs}, ignore_nodes={list(self.ignore_nodes) or None})"

    # ---- one pair ----------------------------------------------------------------

    def evaluate(self, pred: str | bytes, true: str | bytes) -> float:
        """TEDS of one prediction against its ground truth, in [0, 1].

        Raises TEDSInputError for input the reference cannot score either.
        """
        if not pred or not true:
            return 0.0
        pred_table = _find_table(pred, "prediction")
        true_table = _find_table(true, "ground truth")
        if pred_table is None or true_table is None:
            return 0.0
        if self.ignore_nodes:
            etree.strip_tags(pred_table, *self.ignore_nodes)
            etree.strip_tags(true_table, *self.ignore_nodes)
        n_nodes = max(len(pred_table.xpath(".//*")), len(true_table.xpath(".//*")))
        if n_nodes == 0:  # two tables with nothing inside: identical (the reference divides by zero)
            return 1.0
        pred_tree = _TableTree.from_element(pred_table, self.structure_only, "prediction")
        true_tree = _TableTree.from_element(true_table, self.structure_only, "ground truth")
        if len(pred_tree.labels) * len(true_tree.labels) > MAX_NODE_PAIRS:
            raise TEDSInputError(
                f"tables too large to compare: {len(pred_tree.labels)} x {len(true_tree.labels)} nodes "
                f"(limit {MAX_NODE_PAIRS:,} node pairs)"
            )
        try:
            distance = tree_edit_distance(pred_tree.children, true_tree.children, _rename_costs(pred_tree, true_tree))
        except TreeTooLargeError as exc:
            raise TEDSInputError(f"tables too large to compare: {exc}") from None
        return 1.0 - distance / n_nodes

    # ---- many pairs ----------------------------------------------------------------

    def batch_evaluate(self, pred_json: Mapping[str, Any], true_json: Mapping[str, Any]) -> dict[str, float]:
        """Score every ground-truth table: ``{filename: TEDS}``.

        ``pred_json``: ``{filename: html}``; ``true_json``: ``{filename: {"html": html}}``
        as in the reference (plain html strings are accepted too).  A missing
        prediction scores 0.  A pair that cannot be scored (TEDSInputError)
        also scores 0, with one warning for the batch.
        """
        filenames = list(true_json)
        pairs = [(_html_of(pred_json.get(name, "")), _html_of(true_json[name])) for name in filenames]
        results = run_parallel(_score_pair, pairs, self.n_jobs, initargs=(self,), desc="TEDS")
        failures = [f"{name}: {error}" for name, (_score, error) in zip(filenames, results) if error]
        if failures:
            warnings.warn(f"{len(failures)} table(s) could not be scored and count as 0, e.g. {failures[0]}", stacklevel=2)
        return {name: score for name, (score, _error) in zip(filenames, results)}

    def evaluate_safely(self, pred: str | bytes, true: str | bytes) -> tuple[float, str | None]:
        """``(score, None)``, or ``(0.0, reason)`` for a pair that cannot be scored."""
        try:
            return self.evaluate(pred, true), None
        except TEDSInputError as exc:
            return 0.0, str(exc)
        except RecursionError:
            return 0.0, "HTML nested too deeply"


def _html_of(value: Any) -> Any:
    """The html of a reference-style ``{"html": ...}`` entry, or the value itself."""
    return value.get("html", "") if isinstance(value, Mapping) else value


# ---- parsing --------------------------------------------------------------------

_parser: lxml_html.HTMLParser | None = None


def _html_parser() -> lxml_html.HTMLParser:
    global _parser
    if _parser is None:  # one per process; lxml parsers are cheap to reuse
        _parser = lxml_html.HTMLParser(remove_comments=True, encoding="utf-8")
    return _parser


def _find_table(document: str | bytes, side: str):
    """The ``body/table`` element of a document, None if it has none."""
    try:
        root = lxml_html.fromstring(document, parser=_html_parser())
    except etree.ParserError as exc:
        if "empty" in str(exc).lower():
            return None  # whitespace only: as good as an empty string
        raise TEDSInputError(f"{side}: cannot parse HTML: {exc}") from None
    except (etree.LxmlError, ValueError, TypeError) as exc:
        raise TEDSInputError(f"{side}: cannot parse HTML: {exc}") from None
    tables = root.xpath("body/table")
    return tables[0] if tables else None


class _TokenCodes(dict):
    """Maps each distinct content token to its own character, so '<b>' is one symbol."""

    def __missing__(self, token: str) -> str:
        code = chr(len(self))
        self[token] = code
        return code


class _TableTree:
    """A table's tree in postorder: one (tag, colspan, rowspan) label per node, children lists, td contents."""

    def __init__(self) -> None:
        self.labels: list[tuple[Any, int | None, int | None]] = []
        self.children: list[list[int]] = []
        self.td_nodes: list[int] = []
        self.td_contents: list[list[str]] = []

    @classmethod
    def from_element(cls, table, structure_only: bool, side: str) -> "_TableTree":
        tree = cls()
        # Iterative postorder walk (no recursion limit for deep markup).
        stack: list[tuple[Any, Any, list[int]]] = [(table, iter(table), [])]
        while stack:
            element, remaining, child_ids = stack[-1]
            child = next(remaining, None)
            if child is None:
                stack.pop()
                node_id = tree._add((element.tag, None, None), child_ids)
                if stack:
                    stack[-1][2].append(node_id)
            elif child.tag == "td":
                label = ("td", _span(child, "colspan", side), _span(child, "rowspan", side))
                node_id = tree._add(label, [])
                tree.td_nodes.append(node_id)
                tree.td_contents.append([] if structure_only else _cell_tokens(child))
                child_ids.append(node_id)
            else:
                stack.append((child, iter(child), []))
        return tree

    def _add(self, label: tuple, child_ids: list[int]) -> int:
        self.labels.append(label)
        self.children.append(child_ids)
        return len(self.labels) - 1


def _span(td, name: str, side: str) -> int:
    value = td.attrib.get(name, "1")
    try:
        return int(value)  # int() exactly as the reference: ' 2 ' is 2, '2.0' is an error
    except ValueError:
        raise TEDSInputError(f"{side}: td {name}={value!r} is not an integer") from None


def _cell_tokens(td) -> list[str]:
    """Content tokens of a td, as the reference tokenizer gives them (without the td's own tags)."""
    tokens: list[str] = []
    if td.text is not None:
        tokens.extend(td.text)
    for child in td:
        _tokenize(child, tokens)
    return tokens


def _tokenize(node, tokens: list[str]) -> None:
    tokens.append("<%s>" % node.tag)
    if node.text is not None:
        tokens.extend(node.text)
    for child in node:
        _tokenize(child, tokens)
    if node.tag != "unk":  # the reference's special case, kept
        tokens.append("</%s>" % node.tag)
    if node.tag != "td" and node.tail is not None:
        tokens.extend(node.tail)


def _rename_costs(tree1: _TableTree, tree2: _TableTree) -> np.ndarray:
    """rename[i, j] for every node pair: 1 for different labels, cell content distance for equal td labels, else 0."""
    label_ids: dict[tuple, int] = {}
    ids1 = np.array([label_ids.setdefault(label, len(label_ids)) for label in tree1.labels])
    ids2 = np.array([label_ids.setdefault(label, len(label_ids)) for label in tree2.labels])
    rename = (ids1[:, None] != ids2[None, :]).astype(np.float64)
    if tree1.td_nodes and tree2.td_nodes and (any(tree1.td_contents) or any(tree2.td_contents)):
        codes = _TokenCodes()
        texts1 = ["".join(map(codes.__getitem__, tokens)) for tokens in tree1.td_contents]
        texts2 = ["".join(map(codes.__getitem__, tokens)) for tokens in tree2.td_contents]
        edits = process.cdist(texts1, texts2, scorer=Levenshtein.distance, dtype=np.int32, workers=1)
        lengths1 = np.array([len(t) for t in texts1], dtype=np.float64)
        lengths2 = np.array([len(t) for t in texts2], dtype=np.float64)
        longest = np.maximum(lengths1[:, None], lengths2[None, :])
        # Both empty: distance 0 (and no 0/0).
        content = np.divide(edits, longest, out=np.zeros(longest.shape), where=longest > 0)
        block = np.ix_(tree1.td_nodes, tree2.td_nodes)
        rename[block] = np.where(rename[block] == 0.0, content, 1.0)
    return rename


# ---- running many pairs ----------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")

_worker_state: tuple = ()


def _init_worker(*state: Any) -> None:
    global _worker_state
    _worker_state = state


def worker_state() -> tuple:
    """The ``initargs`` that :func:`run_parallel` handed to this process."""
    return _worker_state


def _score_pair(pair: tuple[Any, Any]) -> tuple[float, str | None]:
    (teds,) = worker_state()
    return teds.evaluate_safely(*pair)


def run_parallel(
    func: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int,
    initargs: tuple = (),
    desc: str | None = None,
    progress: bool | None = True,
) -> list[R]:
    """``[func(item) for item in items]`` over ``n_jobs`` processes, with a tqdm bar on stderr.

    ``func`` must be a module-level function; ``initargs`` are handed to
    each worker once (``func`` reads them with :func:`worker_state`).  ``progress=None``
    shows the bar only on a terminal.
    """
    from tqdm import tqdm

    bar = tqdm(total=len(items), desc=desc, file=sys.stderr, disable=(None if progress is None else not progress))
    try:
        if n_jobs == 1 or len(items) < 2:
            _init_worker(*initargs)
            results = []
            for item in items:
                results.append(func(item))
                bar.update()
            return results
        chunksize = max(1, min(16, len(items) // (4 * n_jobs)))
        with multiprocessing.Pool(min(n_jobs, len(items)), initializer=_init_worker, initargs=initargs) as pool:
            results = []
            for result in pool.imap(func, items, chunksize=chunksize):
                results.append(result)
                bar.update()
            return results
    finally:
        bar.close()
