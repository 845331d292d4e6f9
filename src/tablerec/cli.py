"""The `tablerec` command: a thin shell over the Python API, one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence


class CommandError(Exception):
    """A problem to report to the user as one line, without a traceback."""


def fail(message: str) -> None:
    raise CommandError(message)


# ---- validate ------------------------------------------------------------------


def add_validate_parser(sub) -> None:
    p = sub.add_parser("validate", help="check a PubTabNet jsonl file line by line")
    p.add_argument("file", help="PubTabNet jsonl")
    p.add_argument("--images", help="image folder: also check that each image exists and boxes lie inside it")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args) -> int:
    from .pubtabnet import iter_records, validate_table
    from .table import Table, TableError

    if not Path(args.file).is_file():
        fail(f"no such file: {args.file}")
    images = Path(args.images) if args.images else None
    if images is not None and not images.is_dir():
        fail(f"no such image folder: {args.images}")
    n_good = n_bad = n_warn = 0
    for line_no, record, error in iter_records(args.file):
        warnings: list[str] = []
        errors = [error] if error else []
        if record is not None:
            try:
                table = Table.from_record(record)
                size = _image_size(images / table.filename, errors) if images is not None else None
                table_errors, warnings = validate_table(table, size)
                errors.extend(table_errors)
            except TableError as exc:
                errors.append(str(exc))
        where = f"{args.file}:{line_no}" + (f" ({record.get('filename')})" if record and record.get("filename") else "")
        if errors:
            n_bad += 1
            print(f"{where}: error: {'; '.join(errors)}")
        elif warnings:
            n_warn += 1
            if not args.quiet:
                print(f"{where}: warning: {'; '.join(warnings)}")
        if not errors:
            n_good += 1
    print(f"{n_good + n_bad} tables: {n_good} valid ({n_warn} with warnings), {n_bad} invalid")
    return 1 if n_bad else 0


def _image_size(path: Path, errors: list[str]) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        errors.append(f"image not found: {path}")
    except OSError as exc:
        errors.append(f"unreadable image {path}: {exc}")
    return None


# ---- show ------------------------------------------------------------------------


def add_show_parser(sub) -> None:
    p = sub.add_parser("show", help="write an HTML page with each table's image, cell boxes and rendered HTML")
    p.add_argument("file", help="PubTabNet jsonl, or predictions written by tablerec predict -o")
    p.add_argument("--images", help="image folder (default: images/ beside the jsonl)")
    p.add_argument("-o", "--out", default="show.html", help="HTML page to write (default: show.html)")
    p.add_argument("--limit", type=int, default=200, help="show at most this many tables (default: 200)")
    p.set_defaults(handler=cmd_show)


def cmd_show(args) -> int:
    from itertools import islice

    from .draw import write_show_page
    from .pubtabnet import read_tables

    source = Path(args.file)
    if not source.is_file():
        fail(f"no such file: {args.file}")
    images = Path(args.images) if args.images else source.parent / "images"
    if not images.is_dir():
        print(f"tablerec: warning: no image folder {images}; showing tables without images", file=sys.stderr)
        images = None
    errors: list[str] = []
    count = write_show_page(islice(read_tables(source, errors), args.limit), images, args.out, title=source.name)
    for error in errors:
        print(f"tablerec: skipped {error}", file=sys.stderr)
    print(f"wrote {args.out} ({count} tables)")
    return 1 if errors else 0


# ---- eval (owner: eval module) ------------------------------------------------


def add_eval_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="score predicted table HTML against ground truth (TEDS, TEDS-S)",
        description="Score predictions with TEDS and TEDS-S (exactly PubTabNet's reference scores). "
        "PRED and GT: json {filename: html} or jsonl lines {filename, html}; GT may also be PubTabNet jsonl.",
    )
    p.add_argument("pred", metavar="PRED", help="predictions: json or jsonl")
    p.add_argument("gt", metavar="GT", help="ground truth: PubTabNet jsonl, or json/jsonl of html")
    p.add_argument("--structure-only", action="store_true", help="compute only TEDS-S (cell content ignored)")
    p.add_argument("--ignore-nodes", action="append", metavar="TAG", default=[],
                   help="strip these tags (keeping their content) before scoring, e.g. b; repeat or comma-separate")
    p.add_argument("--jobs", type=_positive_int, default=1, metavar="N", help="worker processes (default: 1)")
    p.add_argument("--out", metavar="FILE", help="write the summary and per-table scores here as JSON")
    p.set_defaults(handler=cmd_eval)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def cmd_eval(args) -> int:
    import json

    from .metrics.evaluate import EvaluationError, evaluate_files

    ignore = [tag.strip() for item in args.ignore_nodes for tag in item.split(",") if tag.strip()]
    try:
        report = evaluate_files(args.pred, args.gt, args.structure_only, ignore, args.jobs)
    except EvaluationError as exc:
        fail(str(exc))
    problems = report.unreadable + [f"{t.filename}: {t.error}" for t in report.tables if t.error]
    for problem in problems[:10]:
        print(f"tablerec: warning: {problem}", file=sys.stderr)
    if len(problems) > 10:
        print(f"tablerec: warning: ... and {len(problems) - 10} more (--out lists them all)", file=sys.stderr)
    print(report.format())
    if args.out:
        try:
            Path(args.out).write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {args.out}: {exc.strerror or exc}")
        print(f"wrote {args.out}")
    return 0


# ---- synth (owner: synth module) ------------------------------------------------


def add_synth_parser(sub) -> None:
    from .synth.command import add_arguments

    p = sub.add_parser("synth", help="write synthetic PubTabNet-style tables (images + annotations.jsonl)")
    add_arguments(p)
    p.set_defaults(handler=cmd_synth)


def cmd_synth(args) -> int:
    from .synth import FontsMissing, SynthError
    from .synth.command import run

    try:
        return run(args)
    except (SynthError, FontsMissing) as exc:
        fail(str(exc))
    return 2


# ---- train (owner: train module) ------------------------------------------------


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train (or --resume) an EDD model on PubTabNet jsonl or synthetic tables")
    p.add_argument("--train", required=True, help="PubTabNet jsonl, or synth:N for N synthetic tables")
    p.add_argument("--val", help="validation data, same forms (synth:N is a fixed set)")
    p.add_argument("--out", required=True, help="run directory (checkpoint last.pt, log.txt, metrics.jsonl)")
    p.add_argument("--config", help='JSON file of training settings, model settings under "model"')
    p.add_argument("--images", help="image folder of --train (default: images/ beside the jsonl)")
    p.add_argument("--val-images", help="image folder of --val (default: images/ beside the jsonl)")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt if it exists")
    p.add_argument("--steps", type=int, help="total optimizer steps (on --resume: change the run's length)")
    p.add_argument("--init", metavar="WEIGHTS", help="with no checkpoint to resume: start from these weights (e.g. an exported model) and carry on its recipe from its step")
    p.add_argument(
        "--warm-start", metavar="WEIGHTS",
        help="with no checkpoint to resume: a new run of this recipe whose parameters that fit (same name and shape) come from these weights",
    )
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_train)


def cmd_train(args) -> int:
    import json

    from .synth import FontsMissing
    from .training import load_train_config, train

    if args.init and args.warm_start:
        fail("--init carries on an exported run, --warm-start begins a new one: give one of them")
    for path in (args.config, args.init, args.warm_start, None if args.train.startswith("synth:") else args.train, args.val if args.val and not args.val.startswith("synth:") else None):
        if path and not Path(path).is_file():
            fail(f"no such file: {path}")
    try:
        cfg = load_train_config(args.config, {"seed": args.seed})
    except (ValueError, TypeError) as exc:
        fail(f"bad config {args.config}: {exc}")
    try:
        result = train(
            args.train, args.val, args.out, cfg, resume=args.resume, images=args.images, val_images=args.val_images,
            device=args.device, progress=not args.no_progress, steps=args.steps, init=args.init,
            warm_start=args.warm_start,
        )
    except FontsMissing as exc:  # synth: training data asks for fonts this machine lacks
        fail(str(exc))
    if result:
        print(json.dumps({k: round(v, 4) for k, v in result.items()}))
    return 0


# ---- predict (owner: predict module) ------------------------------------------------


def add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="recognise tables in images: print HTML, or write one jsonl line per image")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files, or folders of images")
    p.add_argument("-o", "--out", help="jsonl to write: {filename, html, cells: [{bbox}], seconds} per image")
    p.add_argument("--model", help="checkpoint (default: the shipped model)")
    p.add_argument("--beam", type=int, default=1, metavar="K", help="beam size of the structure decoder (default 1: greedy)")
    p.add_argument("--cell-beam", type=int, default=None, metavar="K",
                   help="beam size of the cell text decoder (default 3, tablerec.inference.DEFAULT_CELL_BEAM; 1: greedy)")
    p.add_argument("--ctc-weight", type=float, default=None, metavar="W",
                   help="share of the crop's CTC reading in the cell text, 0 to <1 (0: the attention decoder alone; default: the tuned "
                        "value, docs/model.md)")
    p.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--no-snap", action="store_true", help="read cells at the boxes the model predicts, not snapped to the page's text")
    p.add_argument("--uneven-rows", action="store_true",
                   help="let the structure decoder write rows of any width (default: every row as wide as the first without a colspan)")
    p.add_argument("--no-bands", action="store_true",
                   help="decode a tall table's structure from the whole image (default: band by band from 20 rows on)")
    p.add_argument("--no-row-groups", action="store_true",
                   help="keep empty first cells beside a label (default: a label beside empty first cells becomes a rowspan "
                        "where the table shows how it sets its labels or the pattern repeats, and a section label one cell across the table)")
    p.add_argument("--no-structure-edits", action="store_true",
                   help="keep the decoded rows, cells and columns (default: a row the page shows as the lower lines of the row above "
                        "is folded into it, a spanning cell whose words stand in separate columns is split, a column without a word "
                        "is dropped, a row the decoder left out is put back, the header reaches down to a rule across the table)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_predict)


def cmd_predict(args) -> int:
    import json

    from tqdm import tqdm

    from .inference import DEFAULT_CELL_BEAM, DEFAULT_CTC_WEIGHT, ImageError, Predictor, expand_inputs

    paths = expand_inputs(args.inputs)
    if not paths:
        fail("no images found in " + " ".join(args.inputs))
    if args.cell_beam is None:
        args.cell_beam = DEFAULT_CELL_BEAM
    if args.beam < 1 or args.cell_beam < 1:
        fail("--beam and --cell-beam must be >= 1")
    if args.ctc_weight is not None and not 0.0 <= args.ctc_weight < 1.0:
        fail("--ctc-weight must be in [0, 1)")
    try:
        predictor = Predictor(args.model, device=args.device, beam=args.beam, snap=not args.no_snap, cell_beam=args.cell_beam,
                              ctc_weight=DEFAULT_CTC_WEIGHT if args.ctc_weight is None else args.ctc_weight, even_rows=not args.uneven_rows,
                              bands=not args.no_bands, row_groups=not args.no_row_groups, structure_edits=not args.no_structure_edits)
    except Exception as exc:  # a missing, truncated or foreign checkpoint: one line, no traceback
        fail(f"cannot load model {args.model or '(shipped default)'}: {exc}")
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    failed = 0
    try:
        for path in tqdm(paths, disable=args.no_progress or len(paths) < 2, unit="image"):
            try:
                record = predictor.predict_record(path)
            except ImageError as exc:
                failed += 1
                tqdm.write(f"tablerec: {path}: {exc}", file=sys.stderr)
                continue
            if out is not None:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
            elif len(paths) == 1:
                print(record["html"])
            else:
                print(json.dumps(record, ensure_ascii=False))
    finally:
        if out is not None:
            out.close()
    if failed:
        print(f"tablerec: {failed} of {len(paths)} images failed", file=sys.stderr)
    return 1 if failed else 0


# ---- serve (owner: web module) ------------------------------------------------


def add_serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="a web page: drop a table image, see its cells and HTML")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--model", help="checkpoint (default: the shipped model)")
    p.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--beam", type=int, default=1, help="default beam size of the structure decoder (default 1: greedy; the page can change it)")
    p.add_argument("--examples", metavar="DIR", help="folder of example images to offer (default: the bundled examples)")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args) -> int:
    import errno

    from .web.server import MAX_BEAM, make_server

    if not 1 <= args.beam <= MAX_BEAM:
        fail(f"--beam must be from 1 to {MAX_BEAM}")
    if not 0 <= args.port <= 65535:
        fail(f"--port must be from 0 to 65535, not {args.port}")
    if args.examples and not Path(args.examples).is_dir():
        fail(f"no such folder: {args.examples}")
    try:
        server = make_server(args.host, args.port, args.model, args.device, args.beam, args.examples)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {args.port} on {args.host} is already in use (try --port {args.port + 1}, or --port 0 for a free one)")
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:
        server.app.predictor()  # load now: a bad model fails here, not on the first request
    except Exception as exc:  # a missing, truncated or foreign checkpoint: one line, no traceback
        server.server_close()
        fail(f"cannot load model {args.model or '(shipped default)'}: {exc}")
    try:
        print(f"serving on {server.url} (Ctrl-C to stop)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tablerec", description="Image-based table recognition: image in, HTML out.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


SUBCOMMANDS = [add_predict_parser, add_eval_parser, add_train_parser, add_synth_parser, add_validate_parser, add_show_parser,
               add_serve_parser]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"tablerec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tablerec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
