"""Writing synthetic datasets: images/*.png + annotations.jsonl, resumable, sharded, parallel.

Table i is a pure function of (seed, i, config), so the output does not depend
on the number of workers: workers render and save images, the parent writes the
jsonl lines strictly in index order.  On restart the complete lines already in
the file are kept (an incomplete last line is cut off) and generation goes on
from the next index.  ``shard=(k, n_shards)`` takes the indices i < n with
i % n_shards == k and writes ``annotations-k-of-n_shards.jsonl``; ``merge_shards``
interleaves those files back into the ``annotations.jsonl`` a single run writes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .config import SynthConfig
from .content import uses_built_in_words, vocabulary
from .fonts import missing_font_packages, require_fonts
from .generate import make_table, synth_filename

CONFIG_FILE = "synth_config.json"
BLOCK = 64  # tables per worker per round trip: keeps memory flat whatever n is


class SynthError(ValueError):
    """A problem with the request (bad n, unwritable folder, mismatched resume...), said in one line."""


@dataclass
class WriteSummary:
    out_dir: Path
    annotations: Path
    total: int  # tables this shard should hold
    existing: int  # already there when the run started
    written: int  # written by this run


def annotations_name(shard: tuple[int, int]) -> str:
    k, n_shards = shard
    return "annotations.jsonl" if n_shards == 1 else f"annotations-{k}-of-{n_shards}.jsonl"


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise SynthError(f"--shard wants K/N, e.g. 0/4, not {text!r}") from None
    _check_shard((k, n))
    return k, n


def _check_shard(shard: tuple[int, int]) -> None:
    k, n = shard
    if n < 1 or not 0 <= k < n:
        raise SynthError(f"shard {k}/{n}: need 0 <= K < N")


def _shard_indices(n: int, shard: tuple[int, int], skip: int = 0) -> range:
    k, n_shards = shard
    return range(k + skip * n_shards, n, n_shards)


def count_complete_lines(path: Path) -> int:
    """Number of complete lines in ``path``; a trailing partial line (a crash mid-write) is cut off."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        # Find the last newline from the end; everything after it is an unfinished line.
        pos = size
        chunk = 1 << 16
        end_of_complete = 0
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            data = f.read(pos - start)
            i = data.rfind(b"\n")
            if i >= 0:
                end_of_complete = start + i + 1
                break
            pos = start
        if end_of_complete < size:
            f.truncate(end_of_complete)
        f.seek(0)
        count = 0
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            count += block.count(b"\n")
    return count


def _last_line(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 20)))
        return f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]


def _prepare_dir(out_dir: Path, seed: int, split: str, config: SynthConfig) -> None:
    try:
        (out_dir / "images").mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SynthError(f"cannot write to {out_dir}: {exc.strerror or exc}; choose a writable folder") from None
    settings = {"seed": seed, "split": split, "config": config.to_dict()}
    path = out_dir / CONFIG_FILE
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = None
        if existing != json.loads(json.dumps(settings)):
            raise SynthError(f"{out_dir} holds tables made with other settings (see {path}); "
                             "use a new folder, or the same --seed/--split/config to resume")
    else:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # shards may start side by side
        tmp.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


# ---- workers ----------------------------------------------------------------------

_job: dict = {}


def _init_worker(images_dir: str, seed: int, split: str, config: SynthConfig) -> None:
    _job.update(images_dir=images_dir, seed=seed, split=split, config=config)


def _make_one(index: int) -> str:
    """Render table ``index``, save its PNG (atomically), return its jsonl line."""
    config = _job["config"]
    image, table = make_table(index, _job["seed"], config, _job["split"])
    if image.mode != "RGB" and not config.png_grayscale:
        image = image.convert("RGB")
    path = os.path.join(_job["images_dir"], table.filename)
    tmp = path + ".tmp"
    image.save(tmp, format="PNG", compress_level=config.png_compress_level)
    os.replace(tmp, path)
    return json.dumps(table.to_record(), ensure_ascii=False) + "\n"


def _lines(indices: range, workers: int, init_args: tuple) -> Iterator[str]:
    if workers <= 1 or len(indices) <= 1:
        _init_worker(*init_args)
        for index in indices:
            yield _make_one(index)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
        step = BLOCK * workers
        for start in range(0, len(indices), step):
            block = indices[start:start + step]
            yield from pool.imap(_make_one, block, chunksize=4)


def missing_packages(config: SynthConfig | None = None) -> list[str]:
    """Debian packages whose absence changes what a seed draws (font families, the word list): the same
    seed gives other tables on a machine without them.  Generation still works; this is for a warning."""
    config = config or SynthConfig()
    missing = missing_font_packages(config)
    if uses_built_in_words():
        missing.append("wamerican")
    return missing


def reproducibility_warning(config: SynthConfig | None = None) -> str | None:
    """One line for the user if ``missing_packages`` finds any, else None."""
    missing = missing_packages(config)
    if not missing:
        return None
    return (f"{', '.join(missing)} not installed: these tables differ from the same seed's on a machine with "
            f"them (apt-get install {' '.join(missing)})")


def write_synth_dataset(out_dir: str | os.PathLike, n: int, seed: int = 0, workers: int = 1, split: str = "train",
                        shard: tuple[int, int] = (0, 1), config: SynthConfig | None = None,
                        progress: Callable[[int, int], None] | None = None) -> WriteSummary:
    """Write tables 0..n-1 (this shard's share) to ``out_dir``; resumes or extends an earlier run.

    ``progress(done, total)`` is called after each table if given.
    """
    config = config or SynthConfig()
    if not isinstance(n, int) or n < 0:
        raise SynthError(f"the number of tables must be >= 0, not {n}")
    if workers < 1:
        raise SynthError(f"workers must be >= 1, not {workers}")
    _check_shard(shard)
    require_fonts(config)  # fail early, with the install hint
    out_dir = Path(out_dir)
    _prepare_dir(out_dir, seed, split, config)
    annotations = out_dir / annotations_name(shard)
    wanted = _shard_indices(n, shard)
    existing = count_complete_lines(annotations)
    if existing:
        last = json.loads(_last_line(annotations))
        expected = synth_filename(seed, shard[0] + (existing - 1) * shard[1])
        if last.get("filename") != expected:
            raise SynthError(f"{annotations} does not look like this run (last line is {last.get('filename')}, "
                             f"expected {expected}); use a new folder")
    todo = _shard_indices(n, shard, skip=existing)
    vocabulary()  # load once here: forked workers inherit it
    written = 0
    init_args = (str(out_dir / "images"), seed, split, config)
    with open(annotations, "a", encoding="utf-8", newline="\n") as f:
        for line in _lines(todo, workers, init_args):
            f.write(line)
            written += 1
            if written % BLOCK == 0:
                f.flush()
            if progress:
                progress(existing + written, len(wanted))
    return WriteSummary(out_dir, annotations, len(wanted), min(existing, len(wanted)), written)


def merge_shards(out_dir: str | os.PathLike, n_shards: int) -> Path:
    """Interleave annotations-k-of-N.jsonl into annotations.jsonl (index order, as one run writes it)."""
    out_dir = Path(out_dir)
    paths = [out_dir / annotations_name((k, n_shards)) for k in range(n_shards)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise SynthError(f"missing shard file(s): {', '.join(missing)}")
    target = out_dir / "annotations.jsonl"
    tmp = target.with_name(target.name + ".tmp")
    files = [open(p, "rb") for p in paths]
    try:
        with open(tmp, "wb") as out:
            # Index i lives in shard i % N; shards hold a prefix each, so stop at the first gap.
            k = 0
            while True:
                line = files[k].readline()
                if not line.endswith(b"\n"):
                    break
                out.write(line)
                k = (k + 1) % n_shards
    finally:
        for f in files:
            f.close()
    os.replace(tmp, target)
    return target
