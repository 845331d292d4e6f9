from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repo")
    return SHARED


@pytest.fixture(scope="session")
def pubtabnet_examples(shared) -> Path:
    return shared / "data" / "pubtabnet_examples"


@pytest.fixture(scope="session")
def ctdar(shared) -> Path:
    return shared / "data" / "ctdar2019_modern"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """An untrained tiny EDD checkpoint that still emits a few cells, so every inference path runs fast."""
    import torch

    from tablerec.model import EDDConfig, create_model

    config = EDDConfig(
        image_size=64, stem_width=8, encoder_widths=(16, 32), encoder_depths=(1, 1), encoder_strides=(2, 2),
        d_model=32, n_heads=2, structure_layers=1, cell_layers=1, max_structure_len=40, max_cell_len=8,
    )
    torch.manual_seed(0)
    model = create_model(config)
    with torch.no_grad():
        model.structure_decoder.head.bias[model.structure_vocab.index["<td>"]] += 3.0
        model.structure_decoder.head.bias[model.structure_vocab.eos_id] += 2.0
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    torch.save({"model": model.state_dict(), "model_config": config.to_dict(),
                "vocab": {"structure": model.structure_vocab.tokens, "cell": model.cell_vocab.tokens}}, path)
    return path
