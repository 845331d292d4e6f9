"""Where decoding time goes: cProfile around ``Predictor.recognize`` on a few images.

    python benchmarks/profile_decode.py IMAGE... [--beam K] [--cell-beam K] [--model CKPT] [--top N]

One untimed warm-up on the first image, then every image once under cProfile;
prints the wall time of that pass and the top functions by time spent in
themselves.  docs/model.md used it on the held-out tables 10-19
(``synth-777-0000001?.png`` of ``bash scripts/train_default.sh report``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import torch

from tablerec.inference import DEFAULT_CELL_BEAM, Predictor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+")
    ap.add_argument("--model", help="checkpoint (default: the shipped model)")
    ap.add_argument("--beam", type=int, default=1, help="structure beam (default 1)")
    ap.add_argument("--cell-beam", type=int, default=DEFAULT_CELL_BEAM, help=f"cell text beam (default {DEFAULT_CELL_BEAM})")
    ap.add_argument("--top", type=int, default=20, help="functions to list (default 20)")
    args = ap.parse_args()
    torch.set_num_threads(2)  # this project's machine
    predictor = Predictor(args.model, device="cpu", beam=args.beam, cell_beam=args.cell_beam)
    predictor.recognize(args.images[0])  # warm-up: first-call allocations are not decoding cost
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for image in args.images:
        predictor.recognize(image)
    profile.disable()
    print(f"{len(args.images)} images, beam {args.beam}, cell beam {args.cell_beam}: {time.perf_counter() - start:.2f} s")
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
