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
