"""The EDD model: ``create_model(config)``, its vocabularies and decoding."""

from __future__ import annotations

import os

import torch

from .edd import EDD, EDDConfig, prepare_image, prepare_page
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


def load_matching_weights(model: EDD, checkpoint: str | os.PathLike | dict) -> tuple[int, int]:
    """Copy into ``model`` every parameter of a checkpoint whose name and shape match (a warm start for a
    changed architecture); the rest keep their fresh initialisation.  Returns (copied, total) tensor counts."""
    state = checkpoint if isinstance(checkpoint, dict) else torch.load(checkpoint, map_location="cpu", weights_only=False)
    own = model.state_dict()
    copied = {k: v.to(own[k].dtype) for k, v in state["model"].items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(copied, strict=False)
    return len(copied), len(own)
