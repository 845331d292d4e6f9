"""Run rapid-table 0.1.3 (SLANet structure + RapidOCR text) over images; one JSON line per image.

    .venv-rapid-table/bin/python -I rapid_table_runner.py IMAGE [IMAGE ...]
    .venv-rapid-table/bin/python -I rapid_table_runner.py --versions

Runs inside the benchmark's own venv (``predict_bench.py`` creates it) and
imports nothing from tablerec, so the peer is measured as its users install
it.  Each output line is ``{"filename", "html", "seconds_ocr",
"seconds_structure", "seconds"}``, or ``{"filename", "error"}`` when an image
fails; ``seconds`` is the whole path from the file on disk to the HTML
(decode + OCR + structure + matching).  The first image is run once untimed
first, so model loading and first-call costs are not in any table's time.
Both engines use onnxruntime's default thread count.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("rapid-table", "rapidocr_onnxruntime", "onnxruntime", "numpy", "opencv-python")


def versions() -> dict[str, str]:
    """Installed versions of the packages that decide rapid-table's output and speed."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def recognize(engine: Any, ocr: Any, path: Path) -> dict[str, Any]:
    """One image through OCR and table structure, timed by stage."""
    import cv2

    start = time.perf_counter()
    image = cv2.imread(str(path))  # BGR, as both engines expect
    if image is None:
        raise ValueError(f"unreadable image {path}")
    ocr_result, _ = ocr(image)
    after_ocr = time.perf_counter()
    if not ocr_result:  # rapid-table 0.1.3 cannot match cells without any text box
        raise ValueError("OCR found no text")
    html, _boxes, _elapse = engine(image, ocr_result)
    end = time.perf_counter()
    return {
        "filename": path.name,
        "html": html,
        "seconds_ocr": round(after_ocr - start, 4),
        "seconds_structure": round(end - after_ocr, 4),
        "seconds": round(end - start, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", type=Path)
    ap.add_argument("--versions", action="store_true", help="print the installed versions as JSON and exit")
    args = ap.parse_args()
    if args.versions:
        print(json.dumps(versions()))
        return

    from rapid_table import RapidTable
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidTable()
    # RapidTable builds a default RapidOCR when the package is installed; reuse it rather than load the models twice.
    ocr = engine.ocr_engine or RapidOCR()
    if args.images:
        try:
            recognize(engine, ocr, args.images[0])  # warm-up, untimed
        except Exception:
            pass  # the timed run below reports the error
    for path in args.images:
        try:
            record = recognize(engine, ocr, path)
        except Exception as exc:  # one bad image must not stop the run
            record = {"filename": path.name, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(record, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.exit(main())
