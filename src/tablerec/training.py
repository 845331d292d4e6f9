"""Training EDD: one plain module, nanoGPT-style.

    tablerec train --train synth:2000000 --val synth:64 --out runs/default
    torchrun --nproc_per_node=2 -m tablerec train --train DATA --val DATA --out RUN_DIR

Data is a PubTabNet jsonl (images beside it in ``images/`` unless given) or
``synth:N`` (N synthetic tables, rendered on the fly in DataLoader worker
processes).  Every sample is a pure function of its index and the seed, and
the order of indices is a pure function of the step, so ``--resume`` carries
on exactly where the last checkpoint left off.  Checkpoints (model, config,
vocabularies, optimizer, step, RNG) are written atomically to
``RUN_DIR/last.pt``; ``RUN_DIR/log.txt`` and ``RUN_DIR/metrics.jsonl`` keep
the losses and the validation TEDS.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .model import EDD, EDDConfig, create_model, load_matching_weights, load_model
from .model.beam import decode_image, decoded_to_table
from .model.edd import prepare_image, prepare_page
from .model.vocab import Vocab, cell_opening_positions, compress_structure
from .table import Table, TableError


@dataclass
class TrainConfig:
    model: EDDConfig = field(default_factory=EDDConfig)
    batch_size: int = 8
    steps: int = 20000
    lr: float = 5e-4
    min_lr_ratio: float = 0.1  # cosine decay from lr to lr * min_lr_ratio at `steps`
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    structure_only_steps: int = 0  # the paper's first stage: structure decoder (and boxes) only
    max_cells_per_table: int = 40  # cells that get a cell loss in one step (a random subset; bounds memory)
    max_cell_tokens_per_table: int = 480
    box_jitter: float = 0.1  # noise on the true boxes that guide the cell decoder in training (fraction of size)
    curriculum_steps: int = 0  # synthetic data: grow tables from small to full size over this many steps
    synth: dict[str, Any] = field(default_factory=dict)  # SynthConfig settings of synth: training data (not of --val)
    frozen: list[str] = field(default_factory=list)  # modules kept as loaded, e.g. ["encoder", "structure_decoder", "box_head"]
    eval_every: int = 1000
    val_tables: int = 32
    checkpoint_minutes: float = 10.0
    log_every: int = 25
    num_workers: int = 1
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        kwargs = dict(data)
        if "model" in kwargs:
            kwargs["model"] = EDDConfig.from_dict(kwargs["model"]) if isinstance(kwargs["model"], dict) else kwargs["model"]
        return cls(**kwargs)


# ---- data ------------------------------------------------------------------------------------


class PubTabNetImages(Dataset):
    """``(image, table)`` by index from a PubTabNet jsonl; ``None`` for a bad line or missing image."""

    def __init__(self, jsonl: str | os.PathLike, images: str | os.PathLike | None = None) -> None:
        self.jsonl = Path(jsonl)
        self.images = Path(images) if images else self.jsonl.parent / "images"
        self.offsets: list[int] = []  # byte offset of each line: the real PubTabNet has 500k, keep only these
        with open(self.jsonl, "rb") as f:
            offset = 0
            for line in f:
                if line.strip():
                    self.offsets.append(offset)
                offset += len(line)

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, index: int):
        from PIL import Image

        with open(self.jsonl, "rb") as f:
            f.seek(self.offsets[index])
            line = f.readline()
        try:
            table = Table.from_record(json.loads(line))
            with Image.open(self.images / table.filename) as im:
                image = im.convert("RGB")
        except (ValueError, TableError, OSError, KeyError):
            return None
        return image, table


# Synthetic tables grow along this schedule (fraction of the curriculum -> SynthConfig settings).
# Settings the installed SynthConfig does not have are ignored.
CURRICULUM: list[tuple[float, dict[str, Any]]] = [
    (0.0, {"max_rows": 5, "max_cols": 4, "median_rows": 3, "median_cols": 3, "span_probability": 0.1, "max_cell_chars": 12, "augment_probability": 0.0}),
    (0.15, {"max_rows": 8, "max_cols": 5, "median_rows": 5, "median_cols": 4, "span_probability": 0.25, "max_cell_chars": 20, "augment_probability": 0.1}),
    (0.35, {"max_rows": 14, "max_cols": 7, "median_rows": 7, "median_cols": 4, "span_probability": 0.35, "max_cell_chars": 40, "augment_probability": 0.2}),
    (0.6, {"max_rows": 24, "max_cols": 10, "median_rows": 9, "median_cols": 5, "max_cell_chars": 60}),
    (1.0, {}),
]


def synth_config_for(progress: float | None, base=None):
    """The SynthConfig at a point of the curriculum (``None``: the full default distribution)."""
    from .synth import SynthConfig

    config = base if base is not None else SynthConfig()
    if progress is None:
        return config
    settings: dict[str, Any] = {}
    for start, stage in CURRICULUM:
        if progress >= start:
            settings = stage
    known = {f.name for f in fields(config)}
    return replace(config, **{k: v for k, v in settings.items() if k in known})


@lru_cache(maxsize=None)
def _warn_once(message: str) -> None:  # training and validation sets alike would say it
    print(f"tablerec: warning: {message}", file=sys.stderr)


class SynthTables(Dataset):
    """``(image, table)`` for synthetic table ``index``; with a curriculum, table size grows with the index."""

    CACHE_UP_TO = 64  # a set this small (validation, tests) is rendered once and kept in memory

    def __init__(self, n: int, seed: int, curriculum_samples: int = 0, settings: dict[str, Any] | None = None) -> None:
        from .synth import SynthConfig
        from .synth.dataset import reproducibility_warning
        from .synth.fonts import require_fonts

        self.n, self.seed, self.curriculum_samples = n, seed, curriculum_samples
        self.base = SynthConfig.from_dict(settings or {})  # bad settings fail here, before training starts
        require_fonts(self.base)  # and missing fonts too
        if warning := reproducibility_warning(self.base):
            _warn_once(warning)
        self._configs: dict[int, Any] = {}
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        if index in self._cache:
            image, table = self._cache[index]
            return image.copy(), copy.deepcopy(table)
        item = self._make(index)
        if self.n <= self.CACHE_UP_TO and item is not None:
            self._cache[index] = item
            return item[0].copy(), copy.deepcopy(item[1])
        return item

    def _make(self, index: int):
        from .synth import synth_table

        progress = None
        if self.curriculum_samples > 0 and index < self.curriculum_samples:
            progress = index / self.curriculum_samples
        stage = -1 if progress is None else sum(1 for start, _ in CURRICULUM if progress >= start)
        if stage not in self._configs:
            self._configs[stage] = synth_config_for(progress, self.base)
        try:
            return synth_table(index, self.seed, self._configs[stage])
        except Exception as exc:  # a synthesis bug must not stop a long run: skip that table
            print(f"tablerec: synthetic table {index} failed: {exc!r}", file=sys.stderr)
            return None


def open_dataset(spec: str, images: str | None, seed: int, curriculum_samples: int = 0,
                 synth_settings: dict[str, Any] | None = None) -> Dataset:
    """``synth:N`` (drawn with ``synth_settings``) or a PubTabNet jsonl path."""
    if spec.startswith("synth:"):
        n = int(float(spec.split(":", 1)[1]))
        return SynthTables(n, seed, curriculum_samples, synth_settings)
    if not Path(spec).is_file():
        raise FileNotFoundError(f"no such file: {spec}")
    return PubTabNetImages(spec, images)


def encode_example(image, table: Table, model_cfg: EDDConfig, structure: Vocab, cells: Vocab, rng: random.Random, cfg: TrainConfig) -> dict | None:
    """Tensors for one table, or None if it is too long to train on (as the paper, we skip those)."""
    compressed = compress_structure(table.structure)
    if len(compressed) > model_cfg.max_structure_len or not table.cells:
        return None
    openings = cell_opening_positions(compressed)
    if len(openings) != len(table.cells):
        return None
    order = list(range(len(table.cells)))
    rng.shuffle(order)
    chosen, budget = [], cfg.max_cell_tokens_per_table
    for i in order:
        n_tokens = min(len(table.cells[i].tokens), model_cfg.max_cell_len) + 1
        if len(chosen) >= cfg.max_cells_per_table or (chosen and n_tokens > budget):
            continue
        chosen.append(i)
        budget -= n_tokens
    chosen.sort()
    width, height = image.size
    boxes, guides, box_mask, token_ids, has_eos = [], [], [], [], []
    for i in chosen:
        cell = table.cells[i]
        ids = cells.encode(cell.tokens)
        token_ids.append(torch.tensor(ids[: model_cfg.max_cell_len], dtype=torch.long))
        has_eos.append(len(ids) <= model_cfg.max_cell_len)
        if cell.bbox is not None and cell.bbox[2] > cell.bbox[0] and cell.bbox[3] > cell.bbox[1]:
            x0, y0, x1, y1 = cell.bbox
            box = [x0 / width, y0 / height, x1 / width, y1 / height]
            box = [min(max(v, 0.0), 1.0) for v in box]
            w, h = box[2] - box[0], box[3] - box[1]
            j = cfg.box_jitter
            guide = [box[0] + rng.gauss(0, j) * w, box[1] + rng.gauss(0, j) * h, box[2] + rng.gauss(0, j) * w, box[3] + rng.gauss(0, j) * h]
            boxes.append(box)
            guides.append([min(max(v, 0.0), 1.0) for v in guide])
            box_mask.append(True)
        else:
            boxes.append([0.0] * 4)
            guides.append([0.0] * 4)
            box_mask.append(False)
    example = {
        "image": prepare_image(image, model_cfg),
        "structure": torch.tensor(structure.encode(compressed), dtype=torch.long),
        "cell_pos": torch.tensor([openings[i] for i in chosen], dtype=torch.long),
        "cells": token_ids,
        "cell_eos": has_eos,
        "boxes": torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
        "guide_boxes": torch.tensor(guides, dtype=torch.float32).view(-1, 4),
        "box_mask": torch.tensor(box_mask, dtype=torch.bool),
    }
    if model_cfg.reads_crops:
        example["page"] = prepare_page(image, model_cfg)
    return example


class Encoded(Dataset):
    """Wraps an ``(image, table)`` dataset into training tensors (runs in the DataLoader workers)."""

    def __init__(self, base: Dataset, model_cfg: EDDConfig, train_cfg: TrainConfig, structure: Vocab, cells: Vocab) -> None:
        self.base, self.model_cfg, self.train_cfg = base, model_cfg, train_cfg
        self.structure, self.cells = structure, cells

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict | None:
        item = self.base[index]
        if item is None:
            return None
        rng = random.Random(self.train_cfg.seed * 1_000_003 + index)
        return encode_example(item[0], item[1], self.model_cfg, self.structure, self.cells, rng, self.train_cfg)


def collate(examples: Sequence[dict | None]) -> dict[str, torch.Tensor] | None:
    """Pad a list of encoded tables into one batch (tables that were skipped are dropped).

    The cells of each table are packed one after another into one row
    (``cell_in``/``cell_out``/``cell_seg``/``cell_tpos``/``cell_is_start``)
    instead of padding every cell to the longest one: most cells are a few
    characters, a few are a hundred, and padding would multiply the cell
    decoder's work several times over.
    """
    examples = [e for e in examples if e is not None]
    if not examples:
        return None
    b = len(examples)
    t = max(len(e["structure"]) for e in examples) + 1
    c = max(1, max(len(e["cells"]) for e in examples))
    packed = max(1, max(sum(len(x) + 1 for x in e["cells"]) for e in examples))
    structure_in = torch.zeros(b, t, dtype=torch.long)
    structure_out = torch.zeros(b, t, dtype=torch.long)
    cell_pos = torch.zeros(b, c, dtype=torch.long)
    cell_in = torch.zeros(b, packed, dtype=torch.long)
    cell_out = torch.zeros(b, packed, dtype=torch.long)
    cell_seg = torch.full((b, packed), -1, dtype=torch.long)
    cell_tpos = torch.zeros(b, packed, dtype=torch.long)
    cell_is_start = torch.zeros(b, packed, dtype=torch.bool)
    boxes = torch.zeros(b, c, 4)
    guide_boxes = torch.zeros(b, c, 4)
    box_mask = torch.zeros(b, c, dtype=torch.bool)
    cell_valid = torch.zeros(b, c, dtype=torch.bool)
    for i, e in enumerate(examples):
        s = e["structure"]
        structure_in[i, 0] = 1  # <sos>
        structure_in[i, 1 : len(s) + 1] = s
        structure_out[i, : len(s)] = s
        structure_out[i, len(s)] = 2  # <eos>
        n = len(e["cells"])
        cell_pos[i, :n] = e["cell_pos"]
        at = 0
        for j, (ids, eos) in enumerate(zip(e["cells"], e["cell_eos"])):
            length = len(ids)
            # inputs: [structure state, t0 .. t(L-1)]; targets: [t0 .. t(L-1), <eos>]
            cell_is_start[i, at] = True
            cell_in[i, at + 1 : at + 1 + length] = ids
            cell_out[i, at : at + length] = ids
            cell_out[i, at + length] = 2 if eos else 0
            cell_seg[i, at : at + length + 1] = j
            cell_tpos[i, at : at + length + 1] = torch.arange(length + 1)
            at += length + 1
        boxes[i, :n] = e["boxes"]
        guide_boxes[i, :n] = e["guide_boxes"]
        box_mask[i, :n] = e["box_mask"]
        cell_valid[i, :n] = True
    batch = {
        "images": torch.stack([e["image"] for e in examples]),
        "structure_in": structure_in,
        "structure_out": structure_out,
        "cell_pos": cell_pos,
        "cell_in": cell_in,
        "cell_out": cell_out,
        "cell_seg": cell_seg,
        "cell_tpos": cell_tpos,
        "cell_is_start": cell_is_start,
        "boxes": boxes,
        "guide_boxes": guide_boxes,
        "box_mask": box_mask,
        "cell_valid": cell_valid,
    }
    if "page" in examples[0]:  # crop reading: the pages, padded with paper (0) to the largest
        sizes = [(e["page"].shape[2], e["page"].shape[1]) for e in examples]
        pages = torch.zeros(b, 1, max(h for _, h in sizes), max(w for w, _ in sizes), dtype=torch.uint8)
        for i, (e, (w, h)) in enumerate(zip(examples, sizes)):
            pages[i, :, :h, :w] = e["page"]
        batch["pages"] = pages
        batch["page_sizes"] = torch.tensor(sizes, dtype=torch.long)
    return batch


class StepBatches(Sampler):
    """Batches of dataset indices for steps ``start_step..steps-1`` of this rank, reproducibly.

    Global sample ``k`` (``step * batch * world + rank * batch + j``) maps to an
    index: in order for synthetic data (every table is new), through a seeded
    per-epoch permutation for a dataset on disk.
    """

    def __init__(self, n: int, batch_size: int, start_step: int, steps: int, seed: int, shuffle: bool, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.start_step, self.steps = n, batch_size, start_step, steps
        self.seed, self.shuffle, self.rank, self.world = seed, shuffle, rank, world
        self._perm: tuple[int, list[int]] | None = None

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)

    def index(self, k: int) -> int:
        epoch, i = divmod(k, self.n)
        if not self.shuffle:
            return i
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 7919 + epoch)
            self._perm = (epoch, torch.randperm(self.n, generator=g).tolist())
        return self._perm[1][i]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.steps):
            first = (step * self.world + self.rank) * self.batch_size
            yield [self.index(k) for k in range(first, first + self.batch_size)]


# ---- evaluation ---------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model: EDD, examples: Sequence[tuple[Any, Table]], device: torch.device | str = "cpu", beam: int = 1) -> dict[str, float]:
    """Greedy (or beam) decoding of ``(image, table)`` pairs: mean TEDS, TEDS-S, exact structure match.
    The cell text is read by the attention decoder alone (no joint CTC decoding, which ``tablerec predict``
    adds), so validation scores stay comparable with those of the runs before it existed."""
    try:
        from .metrics import TEDS

        teds, teds_s = TEDS(structure_only=False), TEDS(structure_only=True)
    except ImportError:  # the metric not installed: report exact structure matches only
        teds = teds_s = None
    was_training = model.training
    model.eval()
    scores, scores_s, exact = [], [], 0
    t0 = time.time()
    for image, table in examples:
        pred = decoded_to_table(decode_image(model, image, beam=beam, device=device), image.size)
        true_html = table.to_html()
        if teds is not None:
            scores.append(teds.evaluate(pred.to_html(), true_html))
            scores_s.append(teds_s.evaluate(pred.to_html(), true_html))
        exact += pred.structure == table.structure
    model.train(was_training)
    n = max(1, len(examples))
    result = {"structure_exact": exact / n, "seconds_per_table": (time.time() - t0) / n}
    if scores:
        result.update(teds=sum(scores) / len(scores), teds_s=sum(scores_s) / len(scores_s))
    return result


# ---- checkpoints ------------------------------------------------------------------------------------


def save_checkpoint(path: Path, model: EDD, optimizer, step: int, train_cfg: TrainConfig, extra: dict) -> None:
    """Write atomically (tmp + os.replace), so a run killed mid-write keeps its previous checkpoint."""
    state = {
        "model": model.state_dict(),
        "model_config": model.config.to_dict(),
        "vocab": {"structure": model.structure_vocab.tokens, "cell": model.cell_vocab.tokens},
        "optimizer": optimizer.state_dict(),
        "step": step,
        "train_config": train_cfg.to_dict(),
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        **extra,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def export_weights(checkpoint: str | os.PathLike, out: str | os.PathLike, half: bool = True, meta: dict | None = None) -> Path:
    """A small inference checkpoint (weights, config, vocabularies; fp16 by default) from a training one."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    weights = {k: (v.half() if half and v.is_floating_point() and not k.endswith("num_batches_tracked") else v) for k, v in state["model"].items()}
    info = {"step": state.get("step"), "train_hours": round(state.get("train_seconds", 0) / 3600, 2), "train_config": state.get("train_config")}
    info["last_eval"] = state.get("last_eval")
    info.update(meta or {})
    small = {"model": weights, "model_config": state["model_config"], "vocab": state["vocab"], "meta": info}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(small, tmp)
    os.replace(tmp, out)
    return out


# ---- the training loop ----------------------------------------------------------------------------


def pick_device(name: str | None = None) -> torch.device:
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def learning_rate(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def freeze(model: EDD, names: Sequence[str]) -> None:
    """Keep the named top-level modules as loaded: no gradients (so no optimizer state and no backward
    through them) and batch norm on its running statistics.  For training one part of a model, e.g. a
    grown cell reader, without disturbing the structure it is conditioned on."""
    for name in names:
        module = getattr(model, name, None)
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"frozen: the model has no module {name!r}")
        module.requires_grad_(False)
        module.eval()


def make_optimizer(model: EDD, cfg: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on norms, biases and embeddings (as nanoGPT).
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]  # frozen modules stay out
    decay = [p for n, p in trained if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in trained if not (p.dim() >= 2 and "embed" not in n)]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98))


class Log:
    """log.txt (one line per event) and metrics.jsonl (the same as JSON, for plots); rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.text = out_dir / "log.txt"
        self.jsonl = out_dir / "metrics.jsonl"

    def __call__(self, message: str, record: dict | None = None) -> None:
        if not self.enabled:
            return
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        with open(self.text, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        if record is not None:
            with open(self.jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def train(
    train_data: str,
    val_data: str | None,
    out_dir: str | os.PathLike,
    cfg: TrainConfig | None = None,
    resume: bool = False,
    images: str | None = None,
    val_images: str | None = None,
    device: str | None = None,
    progress: bool = True,
    steps: int | None = None,
    init: str | os.PathLike | None = None,
    warm_start: str | os.PathLike | None = None,
) -> dict:
    """Train (or resume) a run; returns the last validation metrics (empty without validation).

    ``init``: when there is no checkpoint to resume, start from these weights (a training checkpoint or an
    exported one such as the shipped model) and, if they record their step and recipe, carry on from that
    step of that recipe with a fresh optimizer, so a run whose directory was lost continues from its export.
    ``warm_start``: when there is no checkpoint to resume, a new run of ``cfg`` (from step 0) whose
    parameters come from these weights wherever name and shape match (a changed architecture keeps what it can).
    """
    from tqdm import tqdm

    cfg = cfg or TrainConfig()
    out = Path(out_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev = pick_device(device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    main_process = rank == 0
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out, main_process)
    ckpt_path = out / "last.pt"

    state = init_state = None
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        # The model and data recipe come from the checkpoint; only the length of the run may change.
        cfg = TrainConfig.from_dict(state["train_config"])
    elif init is not None:
        init_state = torch.load(init, map_location="cpu", weights_only=False)
        meta = init_state.get("meta") or {"step": init_state.get("step"), "train_config": init_state.get("train_config")}
        if meta.get("train_config"):  # the same rule as resuming: the recipe comes with the weights
            cfg = TrainConfig.from_dict(meta["train_config"])
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    torch.manual_seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)

    model = load_model(state or init_state, "cpu").train() if (state or init_state) else create_model(cfg.model)
    model = model.to(dev)
    freeze(model, cfg.frozen)
    optimizer = make_optimizer(model, cfg)
    step, train_seconds, last_eval = 0, 0.0, {}
    rewarm_from = None  # a fresh optimizer mid-schedule ramps its learning rate up again over 100 steps
    if init_state is not None:
        step = int(meta.get("step") or 0)
        train_seconds = float(meta.get("train_hours") or 0.0) * 3600
        last_eval = meta.get("last_eval") or {}
        rewarm_from = step
        log(f"initialised from {init} at step {step} (fresh optimizer)")
    if state:
        optimizer.load_state_dict(state["optimizer"])
        step, train_seconds = state["step"], state.get("train_seconds", 0.0)
        last_eval = state.get("last_eval") or {}
        torch.set_rng_state(state["rng"]["torch"])
        random.setstate(state["rng"]["python"])
        log(f"resumed from {ckpt_path} at step {step}")
    elif init_state is None:
        n_params = sum(p.numel() for p in model.parameters())
        log(f"new run: {n_params / 1e6:.2f}M parameters, config {json.dumps(cfg.to_dict())}")
        if warm_start is not None:
            copied, grown, total = load_matching_weights(model, warm_start)
            log(f"warm start from {warm_start}: {copied} of {total} tensors copied, {grown} grown, the rest new")
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2)) if main_process else None

    ddp_model: torch.nn.Module = model
    if world > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None, find_unused_parameters=cfg.structure_only_steps > 0
        )

    curriculum_samples = cfg.curriculum_steps * cfg.batch_size * world
    base = open_dataset(train_data, images, cfg.seed, curriculum_samples, cfg.synth)
    dataset = Encoded(base, model.config, cfg, model.structure_vocab, model.cell_vocab)
    sampler = StepBatches(len(base), cfg.batch_size, step, cfg.steps, cfg.seed, shuffle=not train_data.startswith("synth:"), rank=rank, world=world)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.num_workers,
        persistent_workers=False,
        prefetch_factor=4 if cfg.num_workers > 0 else None,
        generator=torch.Generator().manual_seed(cfg.seed),  # worker seeds must not draw from the global RNG (resume)
    )
    val_examples: list = []
    if val_data and main_process:
        # A fixed validation set: a different seed from training for synthetic data, full-size tables.
        val_base = open_dataset(val_data, val_images, cfg.seed + 1_000_000)
        val_examples = [x for x in (val_base[i] for i in range(min(cfg.val_tables, len(val_base)))) if x is not None]

    bar = tqdm(total=cfg.steps, initial=step, disable=not (progress and main_process), dynamic_ncols=True, smoothing=0.05)
    last_save = time.time()
    window: dict[str, float] = {}
    window_samples, window_start = 0, time.time()
    ddp_model.train()
    freeze(model, cfg.frozen)
    for batch in loader:
        if step >= cfg.steps:
            break
        t_step = time.time()
        if batch is None:  # every table of the batch was skipped
            step += 1
            continue
        batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
        lr = learning_rate(step, cfg)
        if rewarm_from is not None:
            lr *= min(1.0, (step - rewarm_from + 1) / 100)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with_cells = step >= cfg.structure_only_steps
        losses = ddp_model(batch, with_cells)
        if world == 1 and not torch.isfinite(losses["loss"]):  # one bad batch must not poison a long run
            log(f"step {step}: non-finite loss {float(losses['loss'].detach())}, batch skipped")
            step += 1
            continue
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        train_seconds += time.time() - t_step
        for k, v in losses.items():
            window[k] = window.get(k, 0.0) + float(v.detach())
        window["n"] = window.get("n", 0) + 1
        window_samples += batch["images"].shape[0] * world
        if main_process:
            bar.update(1)
            bar.set_postfix(loss=f"{float(losses['loss'].detach()):.3f}", samples_s=f"{window_samples / max(1e-9, time.time() - window_start):.1f}")
        if step % cfg.log_every == 0 or step == cfg.steps:
            n = window.pop("n")
            means = {k: v / n for k, v in window.items()}
            rate = window_samples / max(1e-9, time.time() - window_start)
            parts = " ".join(f"{k} {v:.4f}" for k, v in means.items())
            log(f"step {step} {parts} lr {lr:.2e} samples/s {rate:.2f}", {"step": step, **means, "lr": lr, "samples_per_s": rate, "train_hours": train_seconds / 3600})
            window, window_samples, window_start = {}, 0, time.time()
        # Checkpoint before evaluating, so that a slow evaluation never costs training progress.
        if main_process and (time.time() - last_save > cfg.checkpoint_minutes * 60 or step == cfg.steps):
            save_checkpoint(ckpt_path, model, optimizer, step, cfg, {"train_seconds": train_seconds, "last_eval": last_eval})
            last_save = time.time()
            log(f"checkpoint {ckpt_path} at step {step}")
        if main_process and val_examples and (step % cfg.eval_every == 0 or step == cfg.steps):
            last_eval = evaluate(model, val_examples, dev)
            log(
                f"eval step {step} " + " ".join(f"{k} {v:.4f}" for k, v in last_eval.items()),
                {"step": step, "eval": last_eval, "train_hours": train_seconds / 3600},
            )
            freeze(model, cfg.frozen)  # evaluate() put every module back in training mode
            window_start = time.time()  # evaluation time is not training throughput
            if step == cfg.steps:  # the final checkpoint carries the final metrics
                save_checkpoint(ckpt_path, model, optimizer, step, cfg, {"train_seconds": train_seconds, "last_eval": last_eval})
    bar.close()
    if main_process and step >= cfg.steps and not (ckpt_path.exists() and _checkpoint_step(ckpt_path) == step):
        save_checkpoint(ckpt_path, model, optimizer, step, cfg, {"train_seconds": train_seconds, "last_eval": last_eval})
    if world > 1:
        torch.distributed.destroy_process_group()
    return last_eval


def _checkpoint_step(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=False)["step"]


def load_train_config(path: str | None, overrides: dict | None = None) -> TrainConfig:
    """Defaults, updated from a JSON file (``{"batch_size": 8, "model": {"d_model": 256}, ...}``)."""
    data: dict = TrainConfig().to_dict()
    if path:
        loaded = json.loads(Path(path).read_text())
        model = {**data["model"], **loaded.pop("model", {})}
        data.update(loaded)
        data["model"] = model
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return TrainConfig.from_dict(data)


# ---- learning curve ------------------------------------------------------------------------------------


def plot_learning_curve(run_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """An SVG of a run's metrics.jsonl: training losses (left) and validation TEDS / TEDS-S (right), by step.

    Plain SVG so the project needs no plotting library.
    """
    records = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    losses = {k: [(r["step"], r[k]) for r in records if k in r] for k in ("structure", "cell", "box")}
    evals = {k: [(r["step"], r["eval"][k]) for r in records if "eval" in r and k in r["eval"]] for k in ("teds", "teds_s")}
    max_step = max([r["step"] for r in records] + [1])
    colours = {"structure": "#1c7ed6", "cell": "#e8590c", "box": "#868e96", "teds": "#e8590c", "teds_s": "#1c7ed6"}
    width, height, pad = 420, 260, 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{2 * width}" height="{height}" fill="white"/>']

    def panel(x0: int, title: str, series: dict, y_max: float, log: bool) -> None:
        def sx(step):
            return x0 + pad + (width - 1.5 * pad) * step / max_step

        def sy(v):
            if log:
                lo, hi = math.log10(0.01), math.log10(max(y_max, 0.02))
                v = (math.log10(max(v, 0.01)) - lo) / (hi - lo)
            else:
                v = v / y_max
            return height - pad - (height - 1.7 * pad) * min(max(v, 0.0), 1.0)

        parts.append(f'<text x="{x0 + pad}" y="16" font-weight="bold">{title}</text>')
        parts.append(f'<line x1="{x0 + pad}" y1="{height - pad}" x2="{x0 + width - pad / 2}" y2="{height - pad}" stroke="#333"/>')
        parts.append(f'<line x1="{x0 + pad}" y1="{pad * 0.7}" x2="{x0 + pad}" y2="{height - pad}" stroke="#333"/>')
        ticks = [0.01, 0.1, 1, 10] if log else [0, 0.25, 0.5, 0.75, 1.0]
        for t in ticks:
            if t <= y_max or not log:
                parts.append(f'<text x="{x0 + 4}" y="{sy(t) + 4:.1f}">{t:g}</text>')
        parts.append(f'<text x="{x0 + width / 2}" y="{height - 8}">step (max {max_step})</text>')
        for i, (name, points) in enumerate(series.items()):
            if not points:
                continue
            path = " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in points)
            parts.append(f'<polyline fill="none" stroke="{colours[name]}" stroke-width="1.5" points="{path}"/>')
            parts.append(f'<text x="{x0 + width - 110}" y="{30 + 14 * i}" fill="{colours[name]}">{name} {points[-1][1]:.3f}</text>')

    y_loss = max([v for pts in losses.values() for _, v in pts] + [1.0])
    panel(0, "training loss (log)", losses, y_loss, log=True)
    panel(width, "validation (greedy)", evals, 1.0, log=False)
    parts.append("</svg>")
    out = Path(out)
    out.write_text("\n".join(parts))
    return out
