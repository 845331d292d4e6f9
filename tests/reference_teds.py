"""A slow, faithful TEDS: the algorithm of PubTabNet's reference ``src/metric.py``.

Used only by the tests (as the oracle for the fast implementation) and by
``benchmarks/teds_bench.py`` (as the speed baseline).  It does what the
reference does, step by step: lxml.html parsing with comments removed, the
``body/table`` requirement, ``strip_tags`` for ignored nodes, a tree of
(tag, colspan, rowspan, content) nodes in which ``td`` does not recurse, and
the tree edit distance from the ``apted`` package (pure Python) with cell
contents compared by ``distance.levenshtein`` (pure Python).

Needs the dev extras: ``apted==1.0.3`` and ``distance==0.1.3``.
"""

from __future__ import annotations

import distance
from apted import APTED, Config
from lxml import etree, html


class ReferenceNode:
    """One node of the tree APTED compares."""

    def __init__(self, tag, colspan: int | None, rowspan: int | None, content: list[str] | None) -> None:
        self.tag = tag
        self.colspan = colspan
        self.rowspan = rowspan
        self.content = content
        self.children: list[ReferenceNode] = []


class ReferenceCosts(Config):
    """Unit insert/delete; rename costs 1 if tag or spans differ, else the cells' normalised Levenshtein."""

    def rename(self, node1: ReferenceNode, node2: ReferenceNode) -> float:
        if node1.tag != node2.tag or node1.colspan != node2.colspan or node1.rowspan != node2.rowspan:
            return 1.0
        if node1.tag == "td" and (node1.content or node2.content):
            longest = max(len(node1.content), len(node2.content))
            return float(distance.levenshtein(node1.content, node2.content)) / longest
        return 0.0


class ReferenceTEDS:
    """TEDS exactly as the reference computes it (slowly)."""

    def __init__(self, structure_only: bool = False, ignore_nodes=None) -> None:
        self.structure_only = structure_only
        self.ignore_nodes = ignore_nodes

    def cell_tokens(self, td) -> list[str]:
        tokens: list[str] = []
        self._tokenize(td, tokens)
        return tokens[1:-1]  # drop the td's own '<td>' and '</td>'

    def _tokenize(self, node, tokens: list[str]) -> None:
        tokens.append("<%s>" % node.tag)
        if node.text is not None:
            tokens.extend(node.text)
        for child in node:
            self._tokenize(child, tokens)
        if node.tag != "unk":
            tokens.append("</%s>" % node.tag)
        if node.tag != "td" and node.tail is not None:
            tokens.extend(node.tail)

    def build_tree(self, node) -> ReferenceNode:
        if node.tag == "td":
            content = [] if self.structure_only else self.cell_tokens(node)
            return ReferenceNode("td", int(node.attrib.get("colspan", "1")), int(node.attrib.get("rowspan", "1")), content)
        tree_node = ReferenceNode(node.tag, None, None, None)
        tree_node.children = [self.build_tree(child) for child in node]
        return tree_node

    def evaluate(self, pred: str, true: str) -> float:
        if not pred or not true:
            return 0.0
        parser = html.HTMLParser(remove_comments=True, encoding="utf-8")
        pred_root = html.fromstring(pred, parser=parser)
        true_root = html.fromstring(true, parser=parser)
        if not (pred_root.xpath("body/table") and true_root.xpath("body/table")):
            return 0.0
        pred_table = pred_root.xpath("body/table")[0]
        true_table = true_root.xpath("body/table")[0]
        if self.ignore_nodes:
            etree.strip_tags(pred_table, *self.ignore_nodes)
            etree.strip_tags(true_table, *self.ignore_nodes)
        n_nodes = max(len(pred_table.xpath(".//*")), len(true_table.xpath(".//*")))
        ted = APTED(self.build_tree(pred_table), self.build_tree(true_table), ReferenceCosts()).compute_edit_distance()
        return 1.0 - float(ted) / n_nodes


def reference_tree_edit_distance(tree1: ReferenceNode, tree2: ReferenceNode) -> float:
    """APTED distance between two hand-built trees, with the reference costs."""
    return APTED(tree1, tree2, ReferenceCosts()).compute_edit_distance()
