"""Training throughput (samples/s) of candidate EDD configs on the same synthetic batches.

    python benchmarks/train_bench.py [--progress 0.4|full] [--rounds 3] [--batch 8]

The CPU may be shared, so configs are interleaved over several rounds and the
best round of each is reported (the least disturbed measurement).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from tablerec.model import EDDConfig, create_model
from tablerec.training import Encoded, SynthTables, TrainConfig, collate, synth_config_for

LIGHT = dict(stem_width=16, encoder_widths=(32, 64, 128))
CONFIGS = {
    "448/w48-96-192/s3": dict(),
    "448/w32-64-128/s3": dict(LIGHT, encoder_depths=(1, 1, 2)),
    "448/w32-64-128x3/s2": dict(LIGHT, encoder_depths=(1, 1, 3), structure_layers=2),
    "384/w32-64-128x3/s2": dict(LIGHT, image_size=384, encoder_depths=(1, 1, 3), structure_layers=2),
    "320/w32-64-128x3/s2": dict(LIGHT, image_size=320, encoder_depths=(1, 1, 3), structure_layers=2),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--progress", default="0.4", help="curriculum point of the tables, or 'full'")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("configs", nargs="*")
    args = ap.parse_args()
    names = args.configs or list(CONFIGS)
    progress = None if args.progress == "full" else float(args.progress)
    torch.manual_seed(0)
    setups = {}
    for name in names:
        cfg = EDDConfig(**CONFIGS[name])
        model = create_model(cfg)
        base = SynthTables(10_000, seed=123)
        base._configs[-1] = synth_config_for(progress)  # every table from one curriculum point
        data = Encoded(base, cfg, TrainConfig(), model.structure_vocab, model.cell_vocab)
        batches = [collate([data[i] for i in range(j, j + args.batch)]) for j in range(0, args.batch * (args.steps + 1), args.batch)]
        setups[name] = (model, torch.optim.AdamW(model.parameters(), 1e-4), batches)
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (model, opt, batches) in setups.items():
            def step(b):
                out = model(b)
                opt.zero_grad()
                out["loss"].backward()
                opt.step()

            step(batches[0])  # warm-up
            t0 = time.perf_counter()
            n = 0
            for b in batches[1:]:
                step(b)
                n += b["images"].shape[0]
            rate = n / (time.perf_counter() - t0)
            best[name] = max(best.get(name, 0.0), rate)
    for name in names:
        model = setups[name][0]
        print(json.dumps({"config": name, "tables": args.progress, "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2), "train_samples_per_s": round(best[name], 2)}))


if __name__ == "__main__":
    main()
