"""Structure decoding that keeps the table a grid: every row as wide as the first plain one.

Tables are grids: every row fills the same number of column slots, counting a cell's colspan and
the slots a rowspan from a row above covers.  The structure decoder does not know this as a rule,
and on tall tables it loses its place and writes rows of 1 or 26 cells (PubTabNet
PMC2838834_005_00).  ``GridState`` follows one hypothesis token by token; once its first row
without a colspan has ended (header rows with colspans are where the decoder most often
miscounts), that row's width is the table's, unless the width was given beforehand (a band of a
tall table takes the whole table's).  ``mask`` then forbids what would break it: ending a row
before its slots are filled, starting a cell in a full row, or a colspan running past the row's end.
"""

from __future__ import annotations

import copy

import torch

from .vocab import Vocab


class GridRule:
    """The masks of the grid rule for one structure vocabulary, built once; ``new_state`` starts a hypothesis."""

    def __init__(self, vocab: Vocab) -> None:
        self.token_of = vocab.tokens
        self.no_cell_start = self._forbidding(vocab, [vocab.index["<td>"], vocab.index["<td"]])
        self.no_row_end = self._forbidding(vocab, [vocab.index["</tr>"]])
        colspans = {int(t.split('"')[1]): i for i, t in enumerate(vocab.tokens) if t.startswith(" colspan=")}
        # no_colspan_over[free]: the colspans wider than the ``free`` slots left in the row.
        self.no_colspan_over = [self._forbidding(vocab, [i for n, i in colspans.items() if n > free]) for free in range(max(colspans) + 1)]

    @staticmethod
    def _forbidding(vocab: Vocab, token_ids: list[int]) -> torch.Tensor:
        """An additive log-probability mask: 0, and -inf at ``token_ids``."""
        mask = torch.zeros(len(vocab.tokens))
        mask[token_ids] = float("-inf")
        return mask

    def new_state(self, width: int | None = None) -> GridState:
        """A hypothesis's grid at its start; ``width``: the table's width if known beforehand."""
        state = GridState(self)
        state.width = width
        return state


class GridState:
    """Where one hypothesis is in its grid: the current row's next free slot and what covers it."""

    def __init__(self, rule: GridRule) -> None:
        self.rule = rule
        self.width: int | None = None  # slots per row, known once the first row has ended
        self.below: list[int] = []  # per column: how many rows after the current one a rowspan covers
        self.covered: list[bool] = []  # per column: the current row's slot is taken by a rowspan from above
        self.column = 0  # the current row's next free slot
        self.in_row = False
        self.plain = True  # the current row has no colspan
        self.opening: list[int] | None = None  # [colspan, rowspan] of a ``<td`` not yet closed by ``>``

    def copy(self) -> GridState:
        new = copy.copy(self)
        new.below, new.covered = list(self.below), list(self.covered)
        new.opening = None if self.opening is None else list(self.opening)
        return new

    def _skip_covered(self) -> None:
        while self.column < len(self.covered) and self.covered[self.column]:
            self.column += 1

    def _place(self, colspan: int, rowspan: int) -> None:
        self.plain = self.plain and colspan == 1
        if rowspan > 1:
            self.below += [0] * (self.column + colspan - len(self.below))
            for c in range(self.column, self.column + colspan):
                self.below[c] = max(self.below[c], rowspan - 1)
        self.column += colspan
        self._skip_covered()

    def push(self, token_id: int) -> None:
        token = self.rule.token_of[token_id]
        if token == "<tr>":
            self.in_row = True
            self.covered = [rows > 0 for rows in self.below]
            self.below = [max(rows - 1, 0) for rows in self.below]
            self.column = 0
            self.plain = True
            self._skip_covered()
        elif token == "</tr>":
            if self.in_row and self.width is None and self.plain:
                self.width = max(self.column, len(self.covered))
            self.in_row = False
        elif token == "<td>":
            self._place(1, 1)
        elif token == "<td":
            self.opening = [1, 1]
        elif self.opening is not None and token.startswith(" colspan="):
            self.opening[0] = int(token.split('"')[1])
        elif self.opening is not None and token.startswith(" rowspan="):
            self.opening[1] = int(token.split('"')[1])
        elif token == ">" and self.opening is not None:
            self._place(*self.opening)
            self.opening = None

    def mask(self) -> torch.Tensor | None:
        """Additive log-probability mask (0 allowed, -inf forbidden) for the next token, or None.
        The masks are the rule's, shared: not to be changed in place."""
        if self.width is None or not self.in_row:
            return None
        free = self.width - self.column
        if self.opening is not None:
            return self.rule.no_colspan_over[min(max(free, 0), len(self.rule.no_colspan_over) - 1)]
        return self.rule.no_cell_start if free <= 0 else self.rule.no_row_end
