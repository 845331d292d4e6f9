"""Token vocabularies of the two decoders.

Both vocabularies are fixed lists (not built from data), so a checkpoint is
self-describing and a model trained on synthetic tables reads real ones with
the same ids.  The structure decoder works on a slightly compressed form of
PubTabNet's structure tokens: in PubTabNet a cell opening (``<td>``, or the
``>`` that closes ``<td ...``) is *always* followed by ``</td>`` (the content
lives in the cell tokens), so that ``</td>`` carries no information.  Dropping
it makes structure sequences ~30% shorter — fewer autoregressive steps in
training and inference — and :func:`expand_structure` puts it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..table import INLINE_TAG_TOKENS

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)
MAX_SPAN = 20

STRUCTURE_TAGS = ("<thead>", "</thead>", "<tbody>", "</tbody>", "<tr>", "</tr>", "<td>", "<td", ">", "</td>")

# Characters beyond printable ASCII that scientific and financial tables use.
EXTRA_CHARS = (
    "°±µμ–—‐‑′″−∼~≤≥×÷·•…‘’“”«»§¶†‡‰≈≠≡∞√∑∏∂∫∆∇→←↑↓↔⇒⇔½¼¾²³¹⁰⁴⁵⁶⁷⁸⁹₀₁₂₃₄€£¥¢©®™"
    "αβγδεζηθικλνξπρσςτυφχψωΓΔΘΛΞΠΣΦΨΩ"
    "ÀÁÂÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÖØÙÚÛÜàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿß"
    "▲▼■□●○◆◇★☆✓✔✗"
)


@dataclass
class Vocab:
    """A list of tokens with ids; ids 0..3 are ``<pad> <sos> <eos> <unk>``."""

    tokens: list[str]

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}
        assert tuple(self.tokens[:4]) == SPECIALS, "the first four tokens must be <pad> <sos> <eos> <unk>"
        assert len(self.index) == len(self.tokens), "duplicate tokens"

    pad_id = 0
    sos_id = 1
    eos_id = 2
    unk_id = 3

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.index.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ids, stopping at ``<eos>`` and skipping the other specials."""
        out: list[str] = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return out


def structure_vocab(max_span: int = MAX_SPAN) -> Vocab:
    spans = [f' {kind}="{n}"' for kind in ("colspan", "rowspan") for n in range(2, max_span + 1)]
    return Vocab([*SPECIALS, *STRUCTURE_TAGS, *spans])


def cell_vocab() -> Vocab:
    chars = [chr(c) for c in range(32, 127)]
    chars += [c for c in dict.fromkeys(EXTRA_CHARS) if c not in chars]
    tags = sorted(INLINE_TAG_TOKENS, key=lambda t: (t.strip("</>"), t.startswith("</")))
    return Vocab([*SPECIALS, *tags, *chars])


# ---- compressed structure ------------------------------------------------------------


def opens_cell(tokens: Sequence[str], i: int) -> bool:
    """True if token i opens a cell's content: ``<td>``, or the ``>`` ending a ``<td`` opening."""
    if tokens[i] == "<td>":
        return True
    if tokens[i] != ">":
        return False
    j = i - 1
    while j >= 0 and tokens[j].startswith((" colspan=", " rowspan=")):
        j -= 1
    return j >= 0 and tokens[j] == "<td"


def compress_structure(tokens: Sequence[str]) -> list[str]:
    """Drop each ``</td>`` that directly follows a cell opening (it is implied)."""
    out: list[str] = []
    for i, t in enumerate(tokens):
        if t == "</td>" and i > 0 and opens_cell(tokens, i - 1):
            continue
        out.append(t)
    return out


def expand_structure(tokens: Sequence[str]) -> list[str]:
    """Inverse of :func:`compress_structure`: put ``</td>`` back after every cell opening."""
    out: list[str] = []
    for i, t in enumerate(tokens):
        out.append(t)
        if opens_cell(tokens, i):
            out.append("</td>")
    return out


def cell_opening_positions(tokens: Sequence[str]) -> list[int]:
    """Indices of the cell-opening tokens of a (compressed or not) structure sequence."""
    return [i for i in range(len(tokens)) if opens_cell(tokens, i)]
