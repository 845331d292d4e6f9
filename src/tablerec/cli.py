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
    p.add_argument("file", help="PubTabNet jsonl")
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
    p = sub.add_parser("eval", help="(not available yet)")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args) -> int:
    fail("'eval' is not available yet")
    return 2


# ---- synth (owner: synth module) ------------------------------------------------


def add_synth_parser(sub) -> None:
    p = sub.add_parser("synth", help="(not available yet)")
    p.set_defaults(handler=cmd_synth)


def cmd_synth(args) -> int:
    fail("'synth' is not available yet")
    return 2


# ---- train (owner: train module) ------------------------------------------------


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="(not available yet)")
    p.set_defaults(handler=cmd_train)


def cmd_train(args) -> int:
    fail("'train' is not available yet")
    return 2


# ---- predict (owner: predict module) ------------------------------------------------


def add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="(not available yet)")
    p.set_defaults(handler=cmd_predict)


def cmd_predict(args) -> int:
    fail("'predict' is not available yet")
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tablerec", description="Image-based table recognition: image in, HTML out.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


SUBCOMMANDS = [add_predict_parser, add_eval_parser, add_train_parser, add_synth_parser, add_validate_parser, add_show_parser]


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
