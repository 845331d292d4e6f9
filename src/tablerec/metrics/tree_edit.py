"""Exact tree edit distance (unit insert/delete, any rename costs), fast for wide shallow trees.

This is the Zhang–Shasha algorithm (1989), organised so that NumPy does the
inner loops:

* For each keyroot ``k1`` of the first tree we walk the rows of its forest
  distance table one node at a time (a Python loop), but each row is computed
  for *all* keyroots of the second tree at once: their forest tables lie side
  by side in one vector ("segments"), so a row costs a handful of NumPy calls.
* With unit insertion cost the in-row recurrence
  ``fd[c] = min(cand[c], fd[c-1] + 1)`` is a running minimum:
  ``fd = minimum.accumulate(cand - pos) + pos``.  Positions jump by more
  than any row value between segments, so the running minimum never carries
  from one segment into the next.
* Keyroots that are leaves (every ``td`` after the first in a row, in a
  table) need no forest table: the distance between a single node and a tree
  has a closed form.

The answer is exact: the same optimum APTED finds, up to float rounding
(~1e-12 here).  Memory is about 40 bytes per pair of nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class TreeShape:
    """Postorder facts about a tree given as ``children[i]`` lists (postorder indices, root last)."""

    children: list[list[int]]
    leftmost_leaf: np.ndarray  # lml[i]: postorder index of the leftmost leaf under i
    size: np.ndarray  # number of nodes in the subtree of i
    keyroots: list[int]  # nodes with a left sibling, plus the root, ascending

    @classmethod
    def from_children(cls, children: Sequence[Sequence[int]]) -> "TreeShape":
        n = len(children)
        lml = np.arange(n)
        is_keyroot = np.zeros(n, dtype=bool)
        is_keyroot[n - 1] = True
        for i, kids in enumerate(children):
            if kids:
                lml[i] = lml[kids[0]]
                is_keyroot[list(kids[1:])] = True
        size = np.arange(n) - lml + 1
        return cls([list(k) for k in children], lml, size, np.flatnonzero(is_keyroot).tolist())

    @property
    def n(self) -> int:
        return len(self.children)

    def row_work(self) -> int:
        """Rows the keyroot loop walks if this tree is the outer one."""
        return int(sum(self.size[k] for k in self.keyroots if self.size[k] > 1))


# Refuse pairs whose forest tables would be too big or too slow.  Tables stay
# far below: two 4000-node tables need ~1.5e8 cell updates and ~5e7 floats.
MAX_CELL_UPDATES = 2_000_000_000
MAX_FOREST_FLOATS = 80_000_000


class TreeTooLargeError(ValueError):
    """The pair would need more time or memory than the limits allow."""


def tree_edit_distance(children1: Sequence[Sequence[int]], children2: Sequence[Sequence[int]], rename_cost: np.ndarray) -> float:
    """Edit distance between two ordered trees; insert and delete cost 1 each.

    ``children1``/``children2``: for each node in postorder, the postorder
    indices of its children (the root is the last node).  ``rename_cost[i, j]``
    is the cost of relabelling node i of tree 1 into node j of tree 2: any
    value >= 0, e.g. a normalised string distance.

    Raises TreeTooLargeError for pairs whose keyroot structure would need too
    much work (Zhang–Shasha is quadratic per tree in the worst case, e.g. for
    deep chains with a leaf to the left at every level; tables are shallow).
    """
    shape1, shape2 = TreeShape.from_children(children1), TreeShape.from_children(children2)
    rename_cost = np.asarray(rename_cost, dtype=np.float64)
    if rename_cost.shape != (shape1.n, shape2.n):
        raise ValueError(f"rename_cost has shape {rename_cost.shape}, expected {(shape1.n, shape2.n)}")
    # The outer (row) loop runs in Python: give it the tree with less row work.
    if shape2.row_work() < shape1.row_work():
        shape1, shape2, rename_cost = shape2, shape1, rename_cost.T
    columns = shape2.row_work() + len(shape2.keyroots)  # length of the column vector (upper bound)
    if shape1.row_work() * columns > MAX_CELL_UPDATES or (int(shape1.size.max()) + 1) * columns > MAX_FOREST_FLOATS:
        raise TreeTooLargeError(
            f"trees of {shape1.n} and {shape2.n} nodes need {shape1.row_work() * columns:.2g} forest-table cells"
        )
    return _zhang_shasha(shape1, shape2, np.ascontiguousarray(rename_cost))


def _zhang_shasha(t1: TreeShape, t2: TreeShape, rename: np.ndarray) -> float:
    n1, n2 = t1.n, t2.n
    lml1 = t1.leftmost_leaf
    # treedist[i, j]: edit distance between the subtree at i and the subtree at j.
    # NaN marks "not computed yet": a wrong read order would show as a NaN result.
    treedist = np.full((n1, n2), np.nan, dtype=np.float64)
    _fill_leaf_distances(t1, t2, rename, treedist)
    if t1.size[-1] == 1 or t2.size[-1] == 1:
        return float(treedist[n1 - 1, n2 - 1])

    columns = _ColumnLayout(t2)
    for k1 in t1.keyroots:
        if t1.size[k1] == 1:
            continue  # leaf keyroot: covered by the closed form
        l1 = int(lml1[k1])
        n_rows = int(t1.size[k1])
        # Any row value is <= n_rows + column, so a gap of n_rows + 2 between
        # segments keeps the running minimum inside each segment.
        pos = columns.position + columns.segment_of * float(n_rows + 2)
        fd = np.empty((n_rows + 1, columns.length), dtype=np.float64)
        fd[0] = columns.column_in_segment
        for r in range(1, n_rows + 1):
            i = l1 + r - 1
            prev, row = fd[r - 1], fd[r]
            td_i = treedist[i]
            if lml1[i] == l1:
                # i is on the leftmost path of k1: whole-tree pairs are
                # computed here, lower segments first (higher ones need them).
                rename_i = rename[i]
                for level in columns.levels:
                    a, b = level.start, level.stop
                    cand = np.empty(b - a)
                    cand[level.path_offsets] = prev[level.path_positions - 1] + rename_i[level.path_nodes]
                    cand[level.other_offsets] = level.other_far_columns + td_i[level.other_nodes]
                    np.minimum(cand, prev[a:b] + 1.0, out=cand)
                    cand[level.start_offsets] = r
                    cand -= pos[a:b]
                    np.minimum.accumulate(cand, out=row[a:b])
                    row[a:b] += pos[a:b]
                    td_i[level.path_nodes] = row[level.path_positions]
            else:
                cand = fd[lml1[i] - l1][columns.far_position] + td_i[columns.node]
                np.minimum(cand, prev + 1.0, out=cand)
                cand[columns.segment_starts] = r
                cand -= pos
                np.minimum.accumulate(cand, out=row)
                row += pos
    result = float(treedist[n1 - 1, n2 - 1])
    if not np.isfinite(result):  # a NaN here would mean an entry was read before it was computed
        raise RuntimeError("tree edit distance: internal error (incomplete distance table)")
    return result


def _fill_leaf_distances(t1: TreeShape, t2: TreeShape, rename: np.ndarray, treedist: np.ndarray) -> None:
    """treedist for every pair where one side is a single leaf.

    A leaf x against a tree T of m nodes: either x is renamed into some node
    of T (cost m - 1 insertions + the cheapest rename) or x is deleted and T
    inserted (m + 1).  So d = m - 1 + min(2, min rename over T).
    """
    leaves1 = np.flatnonzero(t1.size == 1)
    leaves2 = np.flatnonzero(t2.size == 1)
    # Cheapest rename of each leaf of tree 1 into any node of each subtree of tree 2.
    best = np.minimum(_subtree_min(rename[leaves1], t2.children, axis=1), 2.0)
    treedist[leaves1] = (t2.size - 1)[None, :] + best
    best = np.minimum(_subtree_min(rename[:, leaves2], t1.children, axis=0), 2.0)
    treedist[:, leaves2] = (t1.size - 1)[:, None] + best


def _subtree_min(values: np.ndarray, children: list[list[int]], axis: int) -> np.ndarray:
    """Minimum of ``values`` over each node's subtree, along ``axis`` (indexed by postorder node)."""
    result = np.array(values, dtype=np.float64, copy=True)
    view = result if axis == 1 else result.T
    for node, kids in enumerate(children):  # postorder: children before parents
        if kids:
            np.minimum(view[:, node], view[:, kids].min(axis=1), out=view[:, node])
    return result


@dataclass
class _Level:
    """One slice of the column vector whose segments depend only on lower slices."""

    start: int
    stop: int
    start_offsets: np.ndarray  # offsets (within the slice) of each segment's empty-forest column
    path_offsets: np.ndarray  # columns whose node is on its segment keyroot's leftmost path
    path_positions: np.ndarray
    path_nodes: np.ndarray
    other_offsets: np.ndarray  # the remaining node columns
    other_nodes: np.ndarray
    other_far_columns: np.ndarray  # forest column just before the node's leftmost leaf


class _ColumnLayout:
    """The forest-table columns of all non-leaf keyroots of tree 2, laid side by side.

    Segment for keyroot k with leftmost leaf l: column 0 is the empty forest,
    column c (1..size) is the forest of nodes l..l+c-1.  Segments are ordered
    by level (a segment needs the subtree distances of the keyroots inside
    it, which lie in lower levels) so each level is one contiguous slice.
    """

    def __init__(self, t2: TreeShape) -> None:
        lml = t2.leftmost_leaf
        levels = _keyroot_levels(t2)
        segments = sorted((levels[k], k) for k in t2.keyroots if t2.size[k] > 1)
        node, column, segment_of, far_column, on_path, is_start = [], [], [], [], [], []
        level_bounds: list[tuple[int, int]] = []
        for seg_index, (level, k) in enumerate(segments):
            if not level_bounds or level_bounds[-1][0] != level:
                level_bounds.append((level, len(node)))
            l = int(lml[k])
            nodes = np.arange(l, k + 1)
            node.extend([0, *nodes])
            column.extend(range(k - l + 2))
            segment_of.extend([seg_index] * (k - l + 2))
            far_column.extend([0, *(lml[nodes] - l)])
            on_path.extend([False, *(lml[nodes] == l)])
            is_start.extend([True] + [False] * (k - l + 1))
        self.length = len(node)
        self.node = np.array(node, dtype=np.intp)
        self.column_in_segment = np.array(column, dtype=np.float64)
        self.position = np.arange(self.length, dtype=np.float64)
        self.segment_of = np.array(segment_of, dtype=np.float64)
        segment_start = np.flatnonzero(is_start)
        self.segment_starts = segment_start
        seg_index_of = np.array(segment_of, dtype=np.intp)
        self.far_position = segment_start[seg_index_of] + np.array(far_column, dtype=np.intp)

        on_path_arr = np.array(on_path, dtype=bool)
        is_start_arr = np.array(is_start, dtype=bool)
        far_column_arr = np.array(far_column, dtype=np.float64)
        self.levels: list[_Level] = []
        for index, (_level, a) in enumerate(level_bounds):
            b = level_bounds[index + 1][1] if index + 1 < len(level_bounds) else self.length
            offsets = np.arange(b - a)
            path = on_path_arr[a:b]
            other = ~path & ~is_start_arr[a:b]
            self.levels.append(
                _Level(
                    start=a,
                    stop=b,
                    start_offsets=offsets[is_start_arr[a:b]],
                    path_offsets=offsets[path],
                    path_positions=offsets[path] + a,
                    path_nodes=self.node[a:b][path],
                    other_offsets=offsets[other],
                    other_nodes=self.node[a:b][other],
                    other_far_columns=far_column_arr[a:b][other],
                )
            )


def _keyroot_levels(t: TreeShape) -> dict[int, int]:
    """Level of each non-leaf keyroot: 0 if no other non-leaf keyroot lies below it, else 1 + the highest below."""
    is_segment = np.zeros(t.n, dtype=bool)
    for k in t.keyroots:
        if t.size[k] > 1:
            is_segment[k] = True
    highest_below = [-1] * t.n  # highest level of a segment keyroot in the subtree (incl. the node)
    levels: dict[int, int] = {}
    for node, kids in enumerate(t.children):
        inner = max((highest_below[c] for c in kids), default=-1)
        if is_segment[node]:
            levels[node] = inner + 1
            highest_below[node] = inner + 1
        else:
            highest_below[node] = inner
    return levels
