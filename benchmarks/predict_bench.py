"""Inference speed: seconds per image (greedy, beam), and the KV cache's effect at fixed decode lengths.

    python benchmarks/predict_bench.py [--model CKPT] [--images DIR] [--limit 10] [--beams 1 3]

1. Real images: ``Predictor.recognize`` on the PubTabNet examples, mean
   seconds per image for each beam size (depends on what the model emits).
2. Fixed lengths (model-independent): T structure steps, then C cells x L
   steps, decoded with the KV caches (as ``tablerec.model.beam`` does) and
   without them (re-running the decoder over the whole prefix at each step).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tablerec.inference import Predictor

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubtabnet_examples" / "images"


@torch.inference_mode()
def fixed_length_decode(model, structure_steps: int, cells: int, cell_steps: int, cache: bool) -> float:
    """Seconds to run the two decoders for fixed numbers of steps (argmax ignored, no early stop)."""
    cfg = model.config
    image = torch.rand(1, cfg.in_channels, cfg.image_size, cfg.image_size)
    t0 = time.perf_counter()
    memory, _, cell_memory, grid = model.encoder(image)
    dec = model.structure_decoder
    kv = dec.memory_kv(memory)
    ids = torch.full((1, 1), model.structure_vocab.sos_id)
    caches = [dict() for _ in dec.layers] if cache else None
    hiddens = []
    for t in range(structure_steps):
        if cache:
            logits, hidden = dec(ids[:, -1:], kv, start=t, caches=caches)
        else:
            logits, hidden = dec(ids, kv)
        hiddens.append(hidden[:, -1])
        ids = torch.cat([ids, logits[:, -1:].argmax(-1)], dim=1)
    cell_hidden = torch.cat(hiddens[:cells], 0)
    boxes = model.box_head(cell_hidden)
    cdec = model.cell_decoder
    ckv = cdec.memory_kv(cell_memory)
    bias = cdec.box_bias(boxes.unsqueeze(0), grid)
    n = cell_hidden.shape[0]
    tokens = torch.zeros(n, 0, dtype=torch.long)
    ccaches = [dict() for _ in cdec.layers] if cache else None
    for t in range(cell_steps):
        if cache:
            step_ids = tokens[:, -1:] if t else torch.zeros(n, 1, dtype=torch.long)
            x = cdec.inputs(cell_hidden.unsqueeze(1), step_ids, torch.full((n, 1), t == 0), torch.full((n, 1), t))
            logits = cdec(x, ckv, bias, caches=ccaches, cross_shape=(1, n))
        else:  # the whole prefix again: one row per cell, attention causal within the cell
            step_ids = torch.cat([torch.zeros(n, 1, dtype=torch.long), tokens], 1)
            is_start = torch.zeros_like(step_ids, dtype=torch.bool)
            is_start[:, 0] = True
            x = cdec.inputs(cell_hidden.unsqueeze(1), step_ids, is_start, torch.arange(t + 1).expand(n, -1))
            logits = cdec(x, ckv, bias.unsqueeze(2).expand(-1, -1, t + 1, -1).reshape(1, n * (t + 1), -1), cross_shape=(1, n * (t + 1)))
        tokens = torch.cat([tokens, logits[:, -1:].argmax(-1)], dim=1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="checkpoint (default: the shipped model)")
    ap.add_argument("--images", default=str(SHARED))
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--compare-configs", action="store_true", help="also time the first (3-layer decoder) and the shipped layout, random weights")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = Predictor(args.model, device="cpu")
    paths = sorted(Path(args.images).glob("*.png"))[: args.limit]
    for beam in args.beams:
        predictor.recognize(paths[0], beam=beam)  # warm-up
        t0 = time.perf_counter()
        n_cells = 0
        for p in paths:
            n_cells += len(predictor.recognize(p, beam=beam).cells)
        dt = time.perf_counter() - t0
        print(json.dumps({"images": len(paths), "beam": beam, "seconds_per_image": round(dt / len(paths), 3), "cells_per_image": round(n_cells / len(paths), 1)}), flush=True)
    for steps, cells, cell_steps in ((100, 30, 10), (300, 60, 20)):
        row = {"structure_steps": steps, "cells": cells, "cell_steps": cell_steps}
        for cache in (True, False):
            fixed_length_decode(predictor.model, 5, 2, 2, cache)  # warm-up
            row["kv_cache_s" if cache else "no_cache_s"] = round(min(fixed_length_decode(predictor.model, steps, cells, cell_steps, cache) for _ in range(2)), 3)
        row["speedup"] = round(row["no_cache_s"] / row["kv_cache_s"], 1)
        print(json.dumps(row), flush=True)
    if args.compare_configs:
        from tablerec.model import EDDConfig, create_model

        light = dict(stem_width=16, encoder_widths=(32, 64, 128))
        layouts = {
            "first: 448 enc w48-96-192 (1,2,2), structure decoder 3 layers": EDDConfig(),
            "shipped: 448 enc w32-64-128 (1,1,3), structure decoder 2 layers": EDDConfig(**light, encoder_depths=(1, 1, 3), structure_layers=2),
        }
        for name, cfg in layouts.items():
            model = create_model(cfg).eval()
            fixed_length_decode(model, 5, 2, 2, True)
            seconds = min(fixed_length_decode(model, 150, 40, 12, True) for _ in range(2))
            print(json.dumps({"layout": name, "structure_steps": 150, "cells": 40, "cell_steps": 12, "kv_cache_s": round(seconds, 3)}), flush=True)


if __name__ == "__main__":
    main()
