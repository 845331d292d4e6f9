"""CTC prefix scores, to steer the cell decoder with the crop's CTC reading.

The cell decoder reads a crop by attention, and attention decoders fail in a
known way on long text: they lose their place and repeat or invent words
("pain pain pain").  The crop CNN also has a CTC head (trained alongside, see
``EDD._crop_ctc``) that reads the crop column by column; CTC cannot repeat or
invent, but it drops narrow characters.  Joint decoding (Watanabe et al.,
"Hybrid CTC/attention architecture for end-to-end speech recognition", 2017)
ranks each next token by ``(1 - w) * attention + w * CTC``, where the CTC term
is how much the token changes the CTC probability that the crop's text *begins*
with the hypothesis so far (the prefix probability, computed exactly by the
CTC forward variables).

Inline tags (``<b>``, ``<sup>``, ...) and special tokens are not drawn, so CTC
has no say on them: they leave its state unchanged and are ranked by the
attention decoder's log-probability alone (not scaled by ``1 - w``: a tag that
scored nothing from CTC while every character paid its CTC cost would win
too often, and a decoder that emits ``<sup><sup><sup>`` forever is the result).
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def _log_linear_recurrence(inputs: torch.Tensor, log_factor: torch.Tensor) -> torch.Tensor:
    """``a_t = (a_{t-1} + inputs_{t-1}) * factor_t`` in log space, ``a_0 = 0`` (log: -inf), for t = 1..T.

    ``inputs`` (..., T) holds inputs_0..inputs_{T-1}, ``log_factor`` (..., T) factor_1..factor_T.
    Returns a_1..a_T (..., T).  The closed form ``a_t = F_t * sum_{s<t} inputs_s / F_s`` (F the
    running product of the factors) needs no loop over time.
    """
    cumulative = torch.cumsum(log_factor, dim=-1)  # log F_1..F_T
    before = torch.cat([torch.zeros_like(cumulative[..., :1]), cumulative[..., :-1]], dim=-1)  # log F_0..F_{T-1}
    return cumulative + torch.logcumsumexp(inputs - before, dim=-1)


class CTCPrefixScorer:
    """CTC prefix scores for a batch of hypotheses, one row per decoder row.

    ``log_probs`` (C, T, V): the CTC head's log-probabilities for each crop (class 0 the blank),
    read by ``beam`` rows each (crop ``c``'s rows are ``c*beam .. c*beam+beam-1``; the rows share
    their crop's log-probabilities, not a copy each).  ``skip`` (V,) bool: tokens CTC does not see.
    Used inside a decoding loop that calls :meth:`scores` with the tokens just chosen, and
    :meth:`reorder` when rows are re-indexed (the same protocol as the decoder's caches).
    """

    def __init__(self, log_probs: torch.Tensor, skip: torch.Tensor, eos_id: int, candidates: int = 8, beam: int = 1) -> None:
        self.log_probs = log_probs.double()
        self.crop = torch.arange(log_probs.shape[0], device=log_probs.device).repeat_interleave(beam)  # each row's crop
        self.skip = skip.to(log_probs.device)
        self.eos_id = eos_id
        self.candidates = candidates
        rows, frames = self.crop.shape[0], log_probs.shape[1]
        blank = self.log_probs[self.crop, :, 0]
        # Forward variables of the empty prefix at t = 0..T: no label yet, all blanks so far.
        self.nonblank = torch.full((rows, frames + 1), NEG_INF, dtype=torch.float64, device=log_probs.device)
        self.blank = torch.cat([torch.zeros_like(blank[:, :1]), torch.cumsum(blank, dim=1)], dim=1)
        self.prefix = torch.zeros(rows, dtype=torch.float64, device=log_probs.device)  # log prefix probability
        self.last = torch.full((rows,), -1, dtype=torch.long, device=log_probs.device)  # last drawn token
        self.pending: tuple[torch.Tensor, ...] | None = None  # the candidates scored at the last step

    def reorder(self, index: torch.Tensor) -> None:
        self.crop, self.nonblank, self.blank = self.crop[index], self.nonblank[index], self.blank[index]
        self.prefix, self.last = self.prefix[index], self.last[index]
        if self.pending is not None:
            self.pending = tuple(p[index] for p in self.pending)

    def scores(self, chosen: torch.Tensor | None, attention: torch.Tensor, weight: float) -> torch.Tensor:
        """Joint scores ``(rows, V)`` for the next token: the attention log-probabilities' top
        ``candidates`` (and ``<eos>``) get ``(1 - weight) * attention + weight * CTC increment``, the
        other tokens -inf.  ``chosen`` (rows,) or (rows, 1): the tokens the rows took at the previous
        step (None at the first)."""
        if chosen is not None:
            self._advance(chosen.view(-1))
        rows, vocab = attention.shape
        k = min(self.candidates, vocab)
        cand = attention.topk(k, dim=-1).indices
        cand = torch.cat([cand, torch.full((rows, 1), self.eos_id, dtype=torch.long, device=cand.device)], dim=1)
        unseen = self.skip[cand] & (cand != self.eos_id)
        extended, nonblank, blank = self._extend(cand, unseen)
        self.pending = (cand, nonblank, blank, extended)
        increment = extended - self.prefix.unsqueeze(1)
        increment = torch.where(increment.isnan(), NEG_INF, increment)  # -inf - -inf: impossible stays impossible
        picked = attention.gather(1, cand)
        scored = torch.where(unseen, picked, (1 - weight) * picked + weight * increment.to(attention.dtype))
        # A hypothesis CTC finds impossible (longer than the crop's frames can hold) goes on by attention alone.
        stuck = torch.isinf(torch.where(unseen, NEG_INF, scored)).all(dim=1, keepdim=True)
        joint = torch.full_like(attention, NEG_INF)
        joint.scatter_(1, cand, torch.where(stuck, picked, scored))
        return joint

    def _extend(self, cand: torch.Tensor, unseen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For candidates ``cand`` (rows, K), ``unseen`` where CTC does not see them: the log prefix
        probabilities (rows, K) and the forward variables (rows, K, T+1) of each extended prefix."""
        rows, k = cand.shape
        token_lp = self.log_probs[self.crop.unsqueeze(1), :, cand]  # (rows, K, T)
        blank_lp = self.log_probs[self.crop, :, 0].unsqueeze(1).expand(rows, k, -1)
        # phi_s: the probability mass at time s (0..T-1) from which the new label may start; a repeated
        # label must be separated from the previous one by a blank.
        total = torch.logaddexp(self.nonblank, self.blank)[:, :-1].unsqueeze(1).expand(rows, k, -1)
        only_blank = self.blank[:, :-1].unsqueeze(1).expand(rows, k, -1)
        phi = torch.where((cand == self.last.unsqueeze(1)).unsqueeze(-1), only_blank, total)
        nonblank = _log_linear_recurrence(phi, token_lp)  # t = 1..T
        nonblank_before = torch.cat([torch.full_like(nonblank[..., :1], NEG_INF), nonblank[..., :-1]], dim=-1)
        blank = _log_linear_recurrence(nonblank_before, blank_lp)
        start = torch.full_like(nonblank[..., :1], NEG_INF)
        nonblank, blank = torch.cat([start, nonblank], dim=-1), torch.cat([start, blank], dim=-1)
        extended = torch.logsumexp(phi + token_lp, dim=-1)  # prefix probability of the extension
        # <eos>: the whole text is the hypothesis, ending at the last frame.
        ended = torch.logaddexp(self.nonblank[:, -1], self.blank[:, -1]).unsqueeze(1).expand(rows, k)
        extended = torch.where(cand == self.eos_id, ended, extended)
        # Tokens CTC does not see keep its state.
        extended = torch.where(unseen, self.prefix.unsqueeze(1).expand(rows, k), extended)
        nonblank = torch.where(unseen.unsqueeze(-1), self.nonblank.unsqueeze(1).expand_as(nonblank), nonblank)
        blank = torch.where(unseen.unsqueeze(-1), self.blank.unsqueeze(1).expand_as(blank), blank)
        return extended, nonblank, blank

    def _advance(self, chosen: torch.Tensor) -> None:
        """Take the state of each row's chosen candidate (scored at the last step)."""
        cand, nonblank, blank, prefix = self.pending
        hit = cand == chosen.unsqueeze(1)
        which = hit.float().argmax(dim=1)  # a chosen token is always one of the candidates
        rows = torch.arange(cand.shape[0], device=cand.device)
        self.nonblank, self.blank, self.prefix = nonblank[rows, which], blank[rows, which], prefix[rows, which]
        seen = ~self.skip[chosen]
        self.last = torch.where(seen, chosen, self.last)
        self.pending = None
