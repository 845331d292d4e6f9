"""Synthetic PubTabNet-style training tables: image + exact annotation, from (seed, index, config).

    from tablerec.synth import SynthConfig, synth_table, iter_synth, write_synth_dataset
    img, table = synth_table(index=0, seed=0, config=SynthConfig())
    for img, table in iter_synth(n=None, seed=0):   # endless, deterministic stream
        ...
    write_synth_dataset("out", n=1000, seed=0, workers=2)

Layout and rendering use Pillow and the Debian fonts (fonts-liberation,
fonts-dejavu, fonts-freefont-ttf); words come from /usr/share/dict/american-english
when present.  See docs/synth.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import SynthConfig

if TYPE_CHECKING:
    from .dataset import (SynthError, WriteSummary, merge_shards, parse_shard, reproducibility_warning,
                          write_synth_dataset)
    from .fonts import FontsMissing
    from .generate import iter_synth, synth_filename, synth_table

# Loaded on first use, so that building the `tablerec` command line does not import Pillow and numpy.
_LAZY = {
    "SynthError": "dataset", "WriteSummary": "dataset", "merge_shards": "dataset", "parse_shard": "dataset",
    "write_synth_dataset": "dataset", "reproducibility_warning": "dataset", "FontsMissing": "fonts", "iter_synth": "generate",
    "synth_filename": "generate", "synth_table": "generate",
}

__all__ = ["SynthConfig", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
