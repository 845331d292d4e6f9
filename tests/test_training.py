"""Training: a tiny model overfits a few synthetic tables, --resume is exact, DDP runs on 2 CPU processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from tablerec.model import EDDConfig, load_model, prepare_image
from tablerec.model.beam import decode
from tablerec.training import SynthTables, TrainConfig, export_weights, load_train_config, open_dataset, train

REPO = Path(__file__).resolve().parents[1]

TINY_MODEL = EDDConfig(
    image_size=96, stem_width=8, encoder_widths=(16, 32, 48), encoder_depths=(1, 1, 1), encoder_strides=(2, 2, 2),
    d_model=64, n_heads=2, structure_layers=1, cell_layers=1, max_structure_len=60, max_cell_len=16,
)


def tiny_train_config(**changes) -> TrainConfig:
    settings = dict(
        model=TINY_MODEL, batch_size=4, lr=3e-3, warmup_steps=10, min_lr_ratio=0.3, num_workers=0, log_every=10,
        eval_every=10_000, checkpoint_minutes=1e6,
        curriculum_steps=10**9,  # stay at the start of the curriculum: the smallest tables
    )
    settings.update(changes)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def synth_available():
    try:
        SynthTables(1, seed=0, curriculum_samples=10)[0]
    except Exception as exc:  # fonts missing on this machine
        pytest.skip(f"synthetic tables unavailable: {exc}")


def test_recipe_synth_settings_shape_the_training_tables(synth_available):
    cfg = TrainConfig.from_dict({**tiny_train_config().to_dict(), "synth": {"max_rows": 3, "max_cols": 2}})
    assert cfg.synth == {"max_rows": 3, "max_cols": 2}
    tables = open_dataset("synth:6", None, seed=0, synth_settings=cfg.synth)
    assert all(tables[i][1].n_rows <= 3 and tables[i][1].n_cols <= 2 for i in range(6))
    with pytest.raises(ValueError, match="unknown SynthConfig"):
        SynthTables(1, seed=0, settings={"max_rowz": 3})
    assert load_train_config(None).synth == {}


def test_tiny_model_overfits_a_few_synthetic_tables(tmp_path, synth_available):
    cfg = tiny_train_config(steps=300, batch_size=3)
    train("synth:3", None, tmp_path, cfg, progress=False)
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < 0.3 * losses[0], losses
    model = load_model(tmp_path / "last.pt")
    image, table = SynthTables(3, seed=0, curriculum_samples=cfg.curriculum_steps * cfg.batch_size)[0]
    decoded = decode(model, prepare_image(image, model.config))
    assert decoded.structure == table.structure


def test_resume_continues_exactly(tmp_path, synth_available):
    cfg = tiny_train_config(steps=4)
    train("synth:100", None, tmp_path / "straight", cfg, progress=False)
    train("synth:100", None, tmp_path / "resumed", cfg, progress=False, steps=2)
    train("synth:100", None, tmp_path / "resumed", cfg, progress=False, resume=True, steps=4)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 4
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert "resumed from" in (tmp_path / "resumed" / "log.txt").read_text()


def test_export_makes_a_small_loadable_checkpoint(tmp_path, synth_available):
    train("synth:8", None, tmp_path, tiny_train_config(steps=1), progress=False)
    small = export_weights(tmp_path / "last.pt", tmp_path / "small.pt")
    assert small.stat().st_size < (tmp_path / "last.pt").stat().st_size / 2
    model = load_model(small)
    assert next(model.parameters()).dtype == torch.float32


def test_init_from_exported_weights_carries_on_the_recipe(tmp_path, synth_available):
    # A run whose directory is lost continues from its export: same recipe, same step, the export's weights.
    cfg = tiny_train_config(steps=3, batch_size=2)
    train("synth:50", None, tmp_path / "first", cfg, progress=False)
    exported = export_weights(tmp_path / "first" / "last.pt", tmp_path / "export.pt", half=False)
    other = tiny_train_config(steps=1, batch_size=7)  # ignored: the export's recipe wins
    train("synth:50", None, tmp_path / "second", other, progress=False, steps=5, init=exported)
    state = torch.load(tmp_path / "second" / "last.pt", weights_only=False)
    assert state["step"] == 5
    assert state["train_config"]["batch_size"] == 2
    log = (tmp_path / "second" / "log.txt").read_text()
    assert "initialised from" in log and "at step 3" in log
    start = torch.load(exported, weights_only=False)["model"]
    assert any(not torch.equal(start[k], v) for k, v in state["model"].items() if v.is_floating_point())


def test_frozen_modules_stay_as_loaded_while_the_reader_trains(tmp_path, synth_available):
    train("synth:50", None, tmp_path / "old", tiny_train_config(steps=2, batch_size=2), progress=False)
    frozen = ["encoder", "structure_decoder", "box_head"]
    cfg = tiny_train_config(steps=3, batch_size=2, frozen=frozen)
    train("synth:50", None, tmp_path / "new", cfg, progress=False, warm_start=tmp_path / "old" / "last.pt")
    old = torch.load(tmp_path / "old" / "last.pt", weights_only=False)["model"]
    new = torch.load(tmp_path / "new" / "last.pt", weights_only=False)["model"]
    kept = [k for k in old if k.split(".")[0] in frozen]
    assert any("running_mean" in k for k in kept)  # batch norm statistics are checked too
    assert all(torch.equal(old[k], new[k]) for k in kept)
    moved = [k for k in old if k.startswith("cell_decoder.") and old[k].is_floating_point() and not torch.equal(old[k], new[k])]
    assert moved, "the cell decoder should have trained"
    with pytest.raises(ValueError, match="no module"):
        train("synth:50", None, tmp_path / "bad", tiny_train_config(steps=1, batch_size=2, frozen=["encoderr"]), progress=False)


def test_warm_start_into_the_crop_reader_keeps_what_fits(tmp_path, synth_available):
    # A changed architecture (cells read from crops) starts from an old run's weights where they fit.
    from dataclasses import replace

    train("synth:50", None, tmp_path / "old", tiny_train_config(steps=2, batch_size=2), progress=False)
    crop_model = replace(TINY_MODEL, cell_reader="crop", crop_size=(16, 64), crop_widths=(4, 8, 8))
    cfg = tiny_train_config(steps=2, batch_size=2, model=crop_model, lr=0.0)  # lr 0: weights stay as loaded
    train("synth:50", None, tmp_path / "new", cfg, progress=False, warm_start=tmp_path / "old" / "last.pt")
    old = torch.load(tmp_path / "old" / "last.pt", weights_only=False)["model"]
    new = torch.load(tmp_path / "new" / "last.pt", weights_only=False)
    assert new["step"] == 2 and new["model_config"]["cell_reader"] == "crop"
    assert torch.equal(new["model"]["structure_decoder.head.weight"], old["structure_decoder.head.weight"])
    assert "crop_encoder.proj.weight" in new["model"] and "cell_decoder.box_bias_scale" not in new["model"]
    assert "warm start from" in (tmp_path / "new" / "log.txt").read_text()
    model = load_model(tmp_path / "new" / "last.pt")
    image, _ = SynthTables(1, seed=3, curriculum_samples=10)[0]
    from tablerec.model.beam import decode_image

    decode_image(model, image)


def test_cli_train_on_pubtabnet_jsonl(tmp_path, pubtabnet_examples):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**asdict(tiny_train_config()), "val_tables": 2, "eval_every": 2}))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    ann = pubtabnet_examples / "annotations.jsonl"
    cmd = [sys.executable, "-m", "tablerec", "train", "--train", str(ann), "--val", str(ann), "--out", str(tmp_path / "run"), "--config", str(config), "--steps", "2", "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "eval step 2" in (tmp_path / "run" / "log.txt").read_text()


def test_cli_train_names_missing_chinese_fonts_before_it_starts(tmp_path, monkeypatch, capsys, synth_available):
    from tablerec.cli import main
    from tablerec.synth import fonts

    monkeypatch.setattr(fonts, "CJK_FAMILY_FILES", {"Nowhere Ming": (True, "nowhere/ming.ttc")})
    fonts._cjk_families.cache_clear()  # an earlier test may have found the real ones
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**asdict(tiny_train_config()), "synth": {"chinese_probability": 0.5}}))
    status = main(["train", "--train", "synth:8", "--out", str(tmp_path / "run"), "--config", str(config), "--steps", "2", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "fonts-arphic-uming" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run" / "last.pt").exists()
    fonts._cjk_families.cache_clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_cpu_processes(tmp_path, synth_available):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(asdict(tiny_train_config())))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
        "-m", "tablerec", "train", "--train", "synth:32", "--out", str(tmp_path / "run"), "--config", str(config), "--steps", "3",
        "--no-progress", "--device", "cpu",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["step"] == 3
