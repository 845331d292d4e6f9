"""The EDD model: ``create_model(config)``, its vocabularies and decoding."""

from __future__ import annotations

import os

import torch

from .edd import EDD, EDDConfig, prepare_image, prepare_page
from .layers import DecoderLayer
from .vocab import Vocab, cell_vocab, structure_vocab

__all__ = ["EDD", "EDDConfig", "Vocab", "cell_vocab", "create_model", "load_model", "load_matching_weights", "prepare_image", "prepare_page", "structure_vocab"]


def create_model(config: EDDConfig | dict | None = None) -> EDD:
    """A freshly initialised EDD model for a config (dataclass or its dict form)."""
    if config is None:
        config = EDDConfig()
    elif isinstance(config, dict):
        config = EDDConfig.from_dict(config)
    return EDD(config)


def load_model(checkpoint: str | os.PathLike | dict, device: str | torch.device = "cpu") -> EDD:
    """An EDD in eval mode from a training checkpoint or an exported one (fp16 weights become fp32)."""
    state = checkpoint if isinstance(checkpoint, dict) else torch.load(checkpoint, map_location="cpu", weights_only=False)
    vocab = state.get("vocab", {})
    model = EDD(
        EDDConfig.from_dict(state["model_config"]),
        Vocab(list(vocab["structure"])) if "structure" in vocab else None,
        Vocab(list(vocab["cell"])) if "cell" in vocab else None,
    )
    weights = {k: (v.float() if v.is_floating_point() else v) for k, v in state["model"].items()}
    model.load_state_dict(weights)
    return model.to(device).eval()


def load_matching_weights(model: EDD, checkpoint: str | os.PathLike | dict) -> tuple[int, int, int]:
    """Warm-start ``model`` from a checkpoint of a changed architecture.  Returns (copied, grown, total)
    tensor counts.

    A tensor whose name and shape match is copied.  A tensor that grew (a wider layer, a larger vocabulary:
    same rank, no dimension smaller) gets the checkpoint's values in its leading slice, and, where its input
    dimension grew, zeros from the new inputs to the old outputs; a decoder layer the checkpoint lacks
    starts as the identity (its residual branches' output projections zeroed).  So widening the crop CNN's
    channels or adding cell-decoder layers leaves the model computing exactly what the checkpoint did, and
    training starts from there rather than from a model that has forgotten how to read.  The rest keep
    their fresh initialisation.
    """
    state = checkpoint if isinstance(checkpoint, dict) else torch.load(checkpoint, map_location="cpu", weights_only=False)
    theirs = state["model"]
    own = model.state_dict()
    copied = {k: v.to(own[k].dtype) for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    grown = {}
    for k, v in theirs.items():
        mine = own.get(k)
        if mine is None or mine.shape == v.shape or mine.dim() != v.dim() or any(a < b for a, b in zip(mine.shape, v.shape)):
            continue
        t = mine.clone()
        if t.dim() >= 2 and t.shape[1] > v.shape[1]:
            t[: v.shape[0], v.shape[1] :] = 0  # old outputs ignore the new inputs
        t[tuple(slice(0, n) for n in v.shape)] = v.to(t.dtype)
        grown[k] = t
    model.load_state_dict({**copied, **grown}, strict=False)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, DecoderLayer) and not any(k.startswith(name + ".") for k in theirs):
                for branch in (module.self_attn.out, module.cross_attn.out, module.mlp[2]):
                    branch.weight.zero_()
                    branch.bias.zero_()
    return len(copied), len(grown), len(own)
