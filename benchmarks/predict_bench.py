"""Table recognition on real tables: latency and TEDS for tablerec beside rapid-table 0.1.3, on CPU.

    python benchmarks/predict_bench.py [--sets pubtabnet_examples ctdar2019_modern] [--limit N]
        [--model CKPT] [--beams 1 3] [--cell-beams 1 3] [--threads N] [--no-rapid-table | --no-tablerec]
        [--show FILENAME] [--side-by-side OUT.html] [--decode-lengths] [--compare-configs]

1. Real tables (the shared sets; ``--sets`` with no name skips this part).
   Each system reads every image of a set once, timed per table from the
   file on disk to the HTML, after one untimed warm-up image (tablerec's
   settings take turns on each image, so that drift in the machine's speed
   weighs on them alike):

   * tablerec: ``Predictor.recognize`` (the shipped model, or ``--model``),
     at its default beams (structure 1, cell text 3), or each pair of
     ``--beams`` (structure) and ``--cell-beams`` sizes;
   * rapid-table 0.1.3 (SLANet structure + RapidOCR text, onnxruntime), run by
     ``rapid_table_runner.py`` in its own venv, ``benchmarks/.venv-rapid-table``,
     which is created and filled from PyPI when missing (``--no-rapid-table``
     skips it; if it cannot be installed, the line says why and tablerec's
     rows are still printed).

   Scores are tablerec's exact TEDS: pubtabnet_examples gets TEDS and TEDS-S;
   ctdar2019_modern (structure-only ground truth) gets TEDS-S with thead and
   tbody ignored.  A table with no prediction (the system failed) scores 0.
   Printed: one markdown table, peers side by side, with p50/p90 seconds per
   table and tables/s (sequential); and an HTML page with one table's image,
   ground truth and both predictions side by side (``--show``, default the
   first PubTabNet example).  Each system's predictions are also kept, in
   ``tablerec predict``'s jsonl form, as ``benchmarks/out/predictions/SET.SYSTEM.jsonl``
   (``tablerec eval`` scores them again).

2. ``--decode-lengths`` (model-independent): T structure steps, then C cells
   x L steps, decoded with the KV caches (as ``tablerec.model.beam`` does) and
   without them (re-running the decoder over the whole prefix at each step).

3. ``--compare-configs``: the same fixed-length decode for the first
   (3-layer decoder) and the shipped layout, random weights.

Threads: ``--threads`` sets torch's; rapid-table uses onnxruntime's default.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from tablerec.inference import DEFAULT_CELL_BEAM, Predictor
from tablerec.metrics.evaluate import EvaluationReport, GroundTruth, evaluate, load_ground_truth

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RUNNER = REPO / "benchmarks" / "rapid_table_runner.py"
DEFAULT_VENV = REPO / "benchmarks" / ".venv-rapid-table"
DEFAULT_PAGE = REPO / "benchmarks" / "out" / "side_by_side.html"
PREDICTIONS = REPO / "benchmarks" / "out" / "predictions"

RAPID_TABLE_VERSION = "0.1.3"
RAPIDOCR_VERSION = "1.3.25"  # the last 1.3.x: RapidOCR()(image) -> ([[box, text, score], ...], elapse), the API rapid-table 0.1.3 calls
# Both wheels carry their ONNX models, so PyPI is all this needs (no model hub).  numpy<2:
# rapid-table 0.1.3 and RapidOCR 1.3 were released before numpy 2 and never tested with it.
RAPID_TABLE_PINS = (f"rapid-table=={RAPID_TABLE_VERSION}", f"rapidocr_onnxruntime=={RAPIDOCR_VERSION}", "numpy<2")


@dataclass(frozen=True)
class BenchSet:
    name: str
    structure_only: bool  # the ground truth has no cell text
    ignore_nodes: tuple[str, ...] = ()


SETS = {
    "pubtabnet_examples": BenchSet("pubtabnet_examples", structure_only=False),
    # No header labels in the source (everything is in <tbody>), so thead/tbody are not scored.
    "ctdar2019_modern": BenchSet("ctdar2019_modern", structure_only=True, ignore_nodes=("thead", "tbody")),
}


@dataclass
class Run:
    """One system on one set: its predictions, per-table seconds and scores."""

    system: str
    bench_set: BenchSet
    predictions: dict[str, str] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)  # tables that produced a prediction
    errors: dict[str, str] = field(default_factory=dict)
    seconds_ocr: list[float] = field(default_factory=list)  # rapid-table only
    report: EvaluationReport | None = None


class RapidTableUnavailable(Exception):
    """rapid-table's venv could not be created or filled (offline, unsupported Python, ...)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------


def load_set(data_dir: Path, bench_set: BenchSet, limit: int | None) -> tuple[dict[str, GroundTruth], Path]:
    """The set's first ``limit`` tables (annotation order) as ``{filename: GroundTruth}``, and its image folder."""
    root = data_dir / bench_set.name
    truths, problems = load_ground_truth(root / "annotations.jsonl")
    for problem in problems:
        log(f"{bench_set.name}: {problem}")
    if limit is not None:
        truths = dict(list(truths.items())[:limit])
    return truths, root / "images"


# ---- systems ---------------------------------------------------------------------------


def run_tablerec(predictor: Predictor, images: list[Path], runs: list[tuple[Run, int, int]]) -> list[Run]:
    """``Predictor.recognize`` on each image for each ``(run, beam, cell_beam)``, timed; a failure is
    recorded and scores 0.  The settings take turns on each image, so that the machine's speed, which
    drifts during a run, weighs on all of them alike."""
    if images:
        for _, beam, cell_beam in runs:
            try:
                predictor.recognize(images[0], beam=beam, cell_beam=cell_beam)  # warm-up: first-call allocations are not per-table cost
            except Exception:
                pass  # reported by the timed run below
    for i, path in enumerate(images, 1):
        for run, beam, cell_beam in runs:
            start = time.perf_counter()
            try:
                html = predictor.recognize(path, beam=beam, cell_beam=cell_beam).to_html()
            except Exception as exc:  # one bad table must not stop the benchmark
                run.errors[path.name] = f"{type(exc).__name__}: {exc}"
                continue
            run.seconds.append(time.perf_counter() - start)
            run.predictions[path.name] = html
            log(f"  {run.system} {run.bench_set.name} {i}/{len(images)} {run.seconds[-1]:.2f} s")
    return [run for run, _, _ in runs]


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def rapid_table_versions(python: Path) -> dict[str, str] | None:
    """The venv's package versions as the runner reports them, or None if the runner cannot start."""
    try:
        done = subprocess.run([str(python), "-I", str(RUNNER), "--versions"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None


def ensure_rapid_table(venv: Path) -> tuple[Path, dict[str, str]]:
    """The venv's python and versions, creating the venv and installing the pins if needed."""
    python = venv_python(venv)

    def ready(versions: dict[str, str] | None) -> bool:
        return bool(versions) and versions.get("rapid-table") == RAPID_TABLE_VERSION and versions.get("rapidocr_onnxruntime") == RAPIDOCR_VERSION

    versions = rapid_table_versions(python) if python.exists() else None
    if ready(versions):
        return python, versions
    if sys.version_info >= (3, 12):  # rapid-table 0.1.3 declares Requires-Python <3.12
        raise RapidTableUnavailable(f"rapid-table {RAPID_TABLE_VERSION} needs Python < 3.12; this is {sys.version.split()[0]}")
    if not python.exists():
        log(f"creating {venv}")
        done = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RapidTableUnavailable(f"cannot create a venv at {venv}: {_last_line(done.stderr)}")
    log(f"installing {' '.join(RAPID_TABLE_PINS)} into {venv}")
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--retries", "2", *RAPID_TABLE_PINS]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        raise RapidTableUnavailable("pip install timed out after 30 min") from None
    if done.returncode != 0:
        raise RapidTableUnavailable(f"pip install failed (offline?): {_last_line(done.stderr)}")
    versions = rapid_table_versions(python)
    if not ready(versions):
        raise RapidTableUnavailable(f"installed, but the runner does not start or reports {versions}")
    return python, versions


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip() and not line.startswith("WARNING: Location")]
    return lines[-1].strip() if lines else "(no message)"


def run_rapid_table(python: Path, images: list[Path], run: Run) -> Run:
    """The runner over the images in one process (models loaded once); its lines are read as they come."""
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [str(python), "-I", str(RUNNER), *map(str, images)],  # -I: nothing from this repo or PYTHONPATH leaks in
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert proc.stdout is not None
        for i, line in enumerate(proc.stdout, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a stray print from a library
            name = record.get("filename", "?")
            if "error" in record:
                run.errors[name] = record["error"]
                continue
            run.predictions[name] = record["html"]
            run.seconds.append(record["seconds"])
            run.seconds_ocr.append(record["seconds_ocr"])
            log(f"  {run.system} {run.bench_set.name} {i}/{len(images)} {record['seconds']:.2f} s")
        if proc.wait() != 0:
            stderr.seek(0)
            log(f"rapid-table runner exited with {proc.returncode}: {_last_line(stderr.read())}")
    for path in images:  # tables the runner never reported (it crashed) are failures too
        if path.name not in run.predictions and path.name not in run.errors:
            run.errors[path.name] = "no output from the runner"
    return run


# ---- scoring and printing ------------------------------------------------------------


def score(run: Run, truths: dict[str, GroundTruth]) -> Run:
    """TEDS / TEDS-S of every ground-truth table (missing predictions score 0); the predictions are saved too."""
    s = run.bench_set
    run.report = evaluate(run.predictions, truths, structure_only=s.structure_only, ignore_nodes=s.ignore_nodes, progress=False)
    save_predictions(run, PREDICTIONS)
    return run


def save_predictions(run: Run, out_dir: Path) -> Path:
    """``OUT_DIR/SET.SYSTEM.jsonl``, one ``{filename, html, seconds}`` a line, so a long run can be re-scored."""
    slug = re.sub(r"[^a-z0-9.]+", "-", run.system.lower()).strip("-")
    path = out_dir / f"{run.bench_set.name}.{slug}.jsonl"
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for (filename, html), seconds in zip(run.predictions.items(), run.seconds):
            f.write(json.dumps({"filename": filename, "html": html, "seconds": round(seconds, 4)}, ensure_ascii=False) + "\n")
    return path


def results_table(runs: Iterable[Run]) -> str:
    """The markdown table: one row per (system, set)."""
    lines = ["| system | set | tables | p50 s | p90 s | tables/s | TEDS | TEDS-S |", "|---|---|---|---|---|---|---|---|"]
    for run in runs:
        report = run.report
        assert report is not None
        tables = f"{len(report.tables)}" + (f" ({len(run.errors)} failed)" if run.errors else "")
        if run.seconds:
            p50, p90 = np.percentile(run.seconds, [50, 90])
            timing = f"{p50:.2f} | {p90:.2f} | {len(run.seconds) / sum(run.seconds):.2f}"
        else:
            timing = "- | - | -"
        teds = "-" if report.mean_teds is None else f"{report.mean_teds:.4f}"
        lines.append(f"| {run.system} | {run.bench_set.name} | {tables} | {timing} | {teds} | {report.mean_teds_struct:.4f} |")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_line(load: tuple[float, float, float] | None) -> str:
    """CPU, threads and the load before the run: a busy machine makes every timing pessimistic."""
    line = f"machine: {os.cpu_count()} CPUs ({cpu_model()}); torch {torch.__version__}, {torch.get_num_threads()} threads; rapid-table: onnxruntime's default threads"
    if load is not None:
        line += f"; load average before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)"
        if load[0] > 0.5:
            line += ": other work was running, so these timings are pessimistic"
    return line


# ---- side by side ------------------------------------------------------------------------

def shown_table(html: str | None) -> str:
    """The ``<table>`` of an HTML document, ready to embed: read back through ``Table.from_html``, so only
    table markup and inline tags survive and all text is escaped (a stray tag from OCR text cannot run)."""
    from tablerec import Table, TableError

    if not html or not html.strip():
        return "<p><i>no prediction</i></p>"
    try:
        document = Table.from_html(html).to_html()
    except TableError:
        return "<p><i>no table in the output</i></p>"
    return document[document.index("<table"):document.rindex("</table>") + len("</table>")]


def side_by_side_page(image: Path, set_name: str, columns: list[tuple[str, str | None, str]]) -> str:
    """A self-contained page: the image, then each (heading, html, scores) column, side by side."""
    from html import escape

    data = base64.b64encode(image.read_bytes()).decode("ascii")
    cells = [f'<div class="col"><h2>image</h2><img src="data:image/png;base64,{data}" alt="{escape(image.name)}"></div>']
    for heading, html, scores in columns:
        note = f'<p class="score">{escape(scores)}</p>' if scores else ""
        cells.append(f'<div class="col"><h2>{escape(heading)}</h2>{note}{shown_table(html)}</div>')
    style = (
        "body{font-family:sans-serif;margin:1em}"
        ".row{display:grid;grid-template-columns:repeat(%d,minmax(0,1fr));gap:1em;align-items:start}"
        ".col{overflow:auto}h2{font-size:1em;margin:0 0 .3em}.score{margin:0 0 .5em;color:#555}"
        "img{max-width:100%%;box-sizing:border-box;border:1px solid #ccc}table{border-collapse:collapse;font-size:11px}"
        "td,th{border:1px solid #999;padding:1px 3px;min-width:1em;height:1em}"
    ) % (len(columns) + 1)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{escape(image.name)}</title><style>{style}</style></head>"
        f"<body><h1 style=\"font-size:1.2em\">{escape(set_name)} / {escape(image.name)}</h1>"
        f"<div class=\"row\">{''.join(cells)}</div></body></html>\n"
    )


def scores_text(run: Run | None, filename: str) -> str:
    if run is None or run.report is None:
        return "not run"
    entry = next(t for t in run.report.tables if t.filename == filename)
    parts = [] if entry.teds is None else [f"TEDS {entry.teds:.4f}"]
    parts.append(f"TEDS-S {entry.teds_struct:.4f}")
    if filename in run.errors:
        parts.append(f"failed: {run.errors[filename]}")
    return ", ".join(parts)


# ---- fixed-length decode --------------------------------------------------------------


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


def decode_lengths_section(model) -> str:
    """KV cache vs whole-prefix decoding at fixed lengths (best of 2), as a markdown table."""
    lines = ["| decode | with KV cache | without (whole prefix each step) | speed-up |", "|---|---|---|---|"]
    for steps, cells, cell_steps in ((100, 30, 10), (300, 60, 20)):
        seconds = {}
        for cache in (True, False):
            fixed_length_decode(model, 5, 2, 2, cache)  # warm-up
            seconds[cache] = min(fixed_length_decode(model, steps, cells, cell_steps, cache) for _ in range(2))
        lines.append(
            f"| {steps} structure steps, {cells} cells x {cell_steps} steps | {seconds[True]:.3f} s | {seconds[False]:.3f} s | {seconds[False] / seconds[True]:.1f}x |"
        )
    return "\n".join(lines)


def compare_configs_section() -> str:
    """The first and the shipped layout at one fixed length, random weights, as a markdown table."""
    from tablerec.model import EDDConfig, create_model

    light = dict(stem_width=16, encoder_widths=(32, 64, 128))
    layouts = {
        "first: 448 enc w48-96-192 (1,2,2), structure decoder 3 layers": EDDConfig(),
        "shipped: 448 enc w32-64-128 (1,1,3), structure decoder 2 layers": EDDConfig(**light, encoder_depths=(1, 1, 3), structure_layers=2),
    }
    lines = ["| layout (random weights) | 150 structure steps, 40 cells x 12 steps, KV cache |", "|---|---|"]
    for name, cfg in layouts.items():
        model = create_model(cfg).eval()
        fixed_length_decode(model, 5, 2, 2, True)  # warm-up
        seconds = min(fixed_length_decode(model, 150, 40, 12, True) for _ in range(2))
        lines.append(f"| {name} | {seconds:.3f} s |")
    return "\n".join(lines)


# ---- main --------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="checkpoint (default: the shipped model)")
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding the sets (default: ../shared/data)")
    ap.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS), help="sets to run; none skips the real-table section")
    ap.add_argument("--limit", type=int, help="first N tables of each set (a quick run)")
    ap.add_argument("--beams", type=int, nargs="+", default=[1], help="tablerec structure beam sizes (1: greedy)")
    ap.add_argument("--cell-beams", type=int, nargs="+", default=[DEFAULT_CELL_BEAM], help=f"tablerec cell text beam sizes (default {DEFAULT_CELL_BEAM})")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    peers = ap.add_mutually_exclusive_group()
    peers.add_argument("--no-rapid-table", action="store_true", help="run tablerec only")
    peers.add_argument("--no-tablerec", action="store_true", help="run rapid-table only (tablerec's untrained weights decode to the length limits, slowly)")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="rapid-table's venv (created when missing)")
    ap.add_argument("--show", help="the table shown side by side (default: the first PubTabNet example)")
    ap.add_argument("--side-by-side", type=Path, default=DEFAULT_PAGE, help="where the side-by-side page is written")
    ap.add_argument("--decode-lengths", action="store_true", help="also time fixed-length decoding with and without the KV caches")
    ap.add_argument("--compare-configs", action="store_true", help="also time the first (3-layer decoder) and the shipped layout, random weights")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None  # before anything of ours runs

    sets = {name: load_set(args.data, SETS[name], args.limit) for name in args.sets}
    show = None  # (set name, filename)
    if sets:
        default_set = "pubtabnet_examples" if "pubtabnet_examples" in sets else next(iter(sets))
        wanted = args.show or next(iter(sets[default_set][0]), None)
        show = next(((name, wanted) for name, (truths, _) in sets.items() if wanted in truths), None)
        if show is None:
            ap.error(f"--show {wanted}: not among the benchmarked tables (check --sets and --limit)")

    predictor = Predictor(args.model, device="cpu")
    tablerec_name = "tablerec" + (f" ({Path(args.model).name})" if args.model else "")
    runs: list[Run] = []
    rapid_runs: dict[str, Run] = {}
    rapid_note = "rapid-table: skipped (--no-rapid-table)" if sets else None
    rapid_python = None
    if sets and not args.no_rapid_table:
        try:
            rapid_python, versions = ensure_rapid_table(args.venv)
            rapid_note = "rapid-table venv: " + ", ".join(f"{k} {v}" for k, v in versions.items())
        except RapidTableUnavailable as exc:
            rapid_note = f"rapid-table: NOT RUN, {exc}"
            log(rapid_note)

    for name, (truths, image_dir) in sets.items():
        images = [image_dir / filename for filename in truths]
        settings = [] if args.no_tablerec else [(b, c) for b in args.beams for c in args.cell_beams]
        if settings:
            log(f"{tablerec_name} on {name} ({len(images)} tables), beams (structure, cells) {settings}")
            tablerec_runs = [(Run(tablerec_name + (" greedy" if b == c == 1 else f" (beam {b}, cell beam {c})"), SETS[name]), b, c) for b, c in settings]
            runs += [score(run, truths) for run in run_tablerec(predictor, images, tablerec_runs)]
        if rapid_python is not None:
            log(f"rapid-table {RAPID_TABLE_VERSION} on {name} ({len(images)} tables)")
            rapid_runs[name] = score(run_rapid_table(rapid_python, images, Run(f"rapid-table {RAPID_TABLE_VERSION}", SETS[name])), truths)
            runs.append(rapid_runs[name])

    print(machine_line(load))
    if rapid_note:
        print(rapid_note)
    if runs:
        print()
        print(results_table(runs))
        for run in runs:
            for filename, error in run.errors.items():
                print(f"- {run.system} failed on {run.bench_set.name}/{filename} (scored 0): {error}")
        for name, run in rapid_runs.items():
            if run.seconds:
                ocr = sum(run.seconds_ocr) / len(run.seconds_ocr)
                total = sum(run.seconds) / len(run.seconds)
                print(f"- rapid-table on {name}: mean {total:.2f} s per table, of which OCR {ocr:.2f} s ({100 * ocr / total:.0f} %)")

    if show is not None and runs:
        set_name, filename = show
        truths, image_dir = sets[set_name]
        tablerec = next((r for r in runs if r.bench_set.name == set_name and r.system.startswith("tablerec")), None)
        rapid = rapid_runs.get(set_name)
        columns = [
            ("ground truth", truths[filename].html, "structure only" if SETS[set_name].structure_only else ""),
            (tablerec.system if tablerec else "tablerec", tablerec.predictions.get(filename) if tablerec else None, scores_text(tablerec, filename)),
            (f"rapid-table {RAPID_TABLE_VERSION}", rapid.predictions.get(filename) if rapid else None, scores_text(rapid, filename)),
        ]
        args.side_by_side.parent.mkdir(parents=True, exist_ok=True)
        args.side_by_side.write_text(side_by_side_page(image_dir / filename, set_name, columns), encoding="utf-8")
        print(f"\nside by side ({set_name}/{filename}): {args.side_by_side}")

    if args.decode_lengths:
        print("\nfixed-length decode, shipped layout:\n")
        print(decode_lengths_section(predictor.model))
    if args.compare_configs:
        print("\nlayouts at a fixed length:\n")
        print(compare_configs_section())


if __name__ == "__main__":
    main()
