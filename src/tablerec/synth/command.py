"""`tablerec synth`: what the command does, kept here so the CLI handler stays a thin shell."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import SynthConfig

DEFAULT_STATS_N = 500


def add_arguments(p) -> None:
    p.add_argument("out_dir", nargs="?", help="output folder (images/ and annotations.jsonl); "
                   "optional with --stats, which then generates in memory")
    p.add_argument("-n", type=int, help="number of tables (all shards together)")
    p.add_argument("--seed", type=int, default=0, help="stream seed (default 0); table i depends on (seed, i) only")
    p.add_argument("--workers", type=int, default=1, help="processes rendering in parallel (default 1)")
    p.add_argument("--split", default="train", help="split name written in each record (default: train)")
    p.add_argument("--shard", metavar="K/N", help="write only indices i with i %% N == K (to annotations-K-of-N.jsonl)")
    p.add_argument("--merge-shards", type=int, metavar="N",
                   help="interleave OUT_DIR/annotations-*-of-N.jsonl into annotations.jsonl and exit")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a SynthConfig field, e.g. --set max_rows=8 --set augment_probability=0")
    p.add_argument("--stats", action="store_true",
                   help="print row/column/span/size distributions beside the shared real tables")
    p.add_argument("--grid", metavar="PNG", help="with --stats and no OUT_DIR: also save the first 12 tables as a sample sheet")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def config_from_overrides(pairs: list[str]) -> SynthConfig:
    from .dataset import SynthError

    known = {f.name: f for f in fields(SynthConfig)}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise SynthError(f"--set wants FIELD=VALUE with FIELD one of: {', '.join(known)}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        values[name] = tuple(value) if isinstance(value, list) else value
    try:
        return SynthConfig(**values)
    except (TypeError, ValueError) as exc:
        raise SynthError(str(exc)) from None


def run(args) -> int:
    from .dataset import SynthError, merge_shards, parse_shard, reproducibility_warning, write_synth_dataset

    config = config_from_overrides(args.set)
    if args.merge_shards is not None:
        if not args.out_dir:
            raise SynthError("--merge-shards needs OUT_DIR")
        target = merge_shards(args.out_dir, args.merge_shards)
        print(f"wrote {target}")
        return 0
    if args.out_dir is None:
        if not args.stats:
            raise SynthError("give OUT_DIR (or --stats alone to see distributions without writing)")
        return _print_stats_in_memory(args.n if args.n is not None else DEFAULT_STATS_N, args.seed, config, args.grid)
    if args.n is None:
        raise SynthError("say how many tables with -n N")
    if args.n < 0:
        raise SynthError(f"-n must be >= 0, not {args.n}")
    if args.workers < 1:
        raise SynthError(f"--workers must be >= 1, not {args.workers}")
    shard = parse_shard(args.shard) if args.shard else (0, 1)
    if args.n and (warning := reproducibility_warning(config)):
        print(f"tablerec: warning: {warning}", file=sys.stderr)
    progress = None if args.quiet or not sys.stderr.isatty() else _progress_printer()
    started = time.perf_counter()
    try:
        summary = write_synth_dataset(args.out_dir, args.n, seed=args.seed, workers=args.workers, split=args.split,
                                      shard=shard, config=config, progress=progress)
    except OSError as exc:  # disk full, folder removed mid-run...: one line, and rerunning resumes
        raise SynthError(f"writing to {args.out_dir} failed: {exc}; fix that and rerun the same command to resume") from None
    elapsed = time.perf_counter() - started
    if progress:
        print(file=sys.stderr)
    rate = f", {summary.written / elapsed:.1f} tables/s" if summary.written and elapsed > 0 else ""
    resumed = f" (kept {summary.existing} from an earlier run)" if summary.existing else ""
    print(f"wrote {summary.written} tables to {summary.annotations}{resumed}; "
          f"{summary.existing + summary.written} of {summary.total} done{rate}")
    if args.stats:
        _print_stats_from_files(Path(args.out_dir), shard)
    return 0


def _progress_printer():
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 0.5 or done == total:
            last[0] = now
            print(f"\rsynth: {done}/{total}", end="", file=sys.stderr, flush=True)

    return show


def _print_stats_in_memory(n: int, seed: int, config: SynthConfig, grid: str | None = None) -> int:
    from .dataset import SynthError
    from .generate import iter_synth
    from .stats import compare_with_real, sample_grid

    if n < 0:
        raise SynthError(f"-n must be >= 0, not {n}")
    samples = []

    def tables():
        for image, table in iter_synth(n, seed=seed, config=config):
            if grid and len(samples) < 12:
                samples.append(image)
            yield table, image.size

    print(f"synthetic: {n} tables generated in memory (seed {seed})")
    print(compare_with_real(tables()))
    if grid:
        try:
            sample_grid(samples).save(grid)
        except (OSError, ValueError) as exc:
            raise SynthError(f"cannot write {grid}: {exc}") from None
        print(f"wrote {grid}")
    return 0


def _print_stats_from_files(out_dir: Path, shard: tuple[int, int]) -> None:
    from PIL import Image

    from ..pubtabnet import read_tables
    from .dataset import annotations_name
    from .stats import compare_with_real

    def tables():
        for table in read_tables(out_dir / annotations_name(shard)):
            with Image.open(out_dir / "images" / table.filename) as im:
                yield table, im.size

    print(compare_with_real(tables()))
