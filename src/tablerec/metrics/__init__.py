"""Evaluation metrics: TEDS (exact, fast) and whole-dataset evaluation.

``from tablerec.metrics import TEDS`` is a drop-in for PubTabNet's
``from metric import TEDS``.  No torch here.
"""

from .teds import TEDS, TEDSInputError
from .tree_edit import tree_edit_distance

__all__ = ["TEDS", "TEDSInputError", "tree_edit_distance"]
