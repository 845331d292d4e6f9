"""CTC prefix scores (tablerec.model.ctc) and joint CTC/attention decoding of cell text."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tablerec.model.ctc import CTCPrefixScorer

T, V, TAG, EOS = 12, 7, 5, 6  # class 0 is the blank; 5 an inline tag, 6 <eos> (neither drawn)


def _log_probs(seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    x = torch.randn(1, T, V)
    x[..., TAG] = x[..., EOS] = -1e4  # never-drawn classes carry no mass, as in a trained head
    return x.log_softmax(-1)


def _scorer(log_probs: torch.Tensor) -> CTCPrefixScorer:
    skip = torch.zeros(V, dtype=torch.bool)
    skip[[0, TAG, EOS]] = True
    return CTCPrefixScorer(log_probs, skip, EOS, candidates=V)


def _candidate_prefix(scorer: CTCPrefixScorer, token: int) -> float:
    cand, _, _, prefix = scorer.pending
    return float(prefix[0, (cand[0] == token).nonzero()[0, 0]])


def test_ending_scores_the_whole_sequence_as_ctc_loss_does_and_tags_are_transparent():
    log_probs = _log_probs(0)
    scorer = _scorer(log_probs)
    chosen = None
    for token in [1, 2, TAG, 2, 3]:  # "1 2 2 3" with a tag inside: the repeated 2 needs a blank between
        scorer.scores(chosen, torch.zeros(1, V), 1.0 - 1e-9)
        chosen = torch.tensor([token])
    scorer.scores(chosen, torch.zeros(1, V), 0.5)
    expected = -F.ctc_loss(log_probs.transpose(0, 1), torch.tensor([[1, 2, 2, 3]]), torch.tensor([T]), torch.tensor([4]), reduction="sum")
    assert abs(_candidate_prefix(scorer, EOS) - float(expected)) < 1e-4


def test_a_prefix_probability_is_its_own_ending_plus_all_its_extensions():
    scorer = _scorer(_log_probs(1))
    chosen = None
    for token in [3, 3, 1, 4]:
        scorer.scores(chosen, torch.zeros(1, V), 0.5)
        parts = [_candidate_prefix(scorer, c) for c in range(1, TAG)] + [_candidate_prefix(scorer, EOS)]
        assert abs(float(torch.logsumexp(torch.tensor(parts), 0)) - float(scorer.prefix[0])) < 1e-6
        chosen = torch.tensor([token])


def test_joint_scores_follow_the_ctc_reading_and_leave_tags_to_attention():
    # Frames read "1" then blanks: CTC wants "1", then the end.
    log_probs = torch.full((1, T, V), -20.0)
    log_probs[0, :, 0] = 0.0
    log_probs[0, 2, 0], log_probs[0, 2, 1] = -20.0, 0.0
    scorer = _scorer(log_probs.log_softmax(-1))
    scorer.candidates = 3

    def attention(*logits: float) -> torch.Tensor:
        return torch.log_softmax(torch.tensor([logits], dtype=torch.float32), -1)

    first = attention(-9, 0, 0.5, -9, -9, 1, -9)  # attention prefers the tag, then "2", then "1"
    joint = scorer.scores(None, first, 0.5)
    assert int(joint.argmax()) == TAG and joint[0, TAG] == first[0, TAG]  # tags: attention alone
    joint = scorer.scores(torch.tensor([TAG]), attention(-9, 0, 0.5, -9, -9, -9, -9), 0.5)
    assert int(joint.argmax()) == 1  # CTC overrules attention's "2"
    joint = scorer.scores(torch.tensor([1]), attention(-9, 2, -9, 1, -9, -9, 0), 0.5)  # attention: "1" again
    assert int(joint.argmax()) == EOS
    assert torch.isinf(joint[0, 2])  # not among attention's top 3 (nor <eos>): never chosen


def test_a_hypothesis_ctc_finds_impossible_goes_on_by_attention():
    scorer = _scorer(_log_probs(2)[:, :2])  # two frames: room for two labels at most
    attention = torch.log_softmax(torch.arange(V, dtype=torch.float64), -1).unsqueeze(0)
    chosen = None
    for token in [1, 2, 3]:
        scorer.scores(chosen, attention, 0.5)
        chosen = torch.tensor([token])
    joint = scorer.scores(chosen, attention, 0.5)
    assert torch.isinf(scorer.prefix).all()  # "1 2 3" cannot be read from two frames
    assert torch.equal(joint, attention)  # every token a candidate here, scored by attention alone
