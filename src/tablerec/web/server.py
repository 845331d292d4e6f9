"""The HTTP server behind ``tablerec serve``: static page, bundled examples, and ``POST /api/recognize``.

Endpoints::

    GET  /                    the page (static/index.html; ?example=NAME runs that example on load)
    GET  /static/<file>       the page's script and style sheet
    GET  /api/info            {model, device, beam, max_bytes, max_pixels}
    GET  /api/examples        [{name, url, width, height}] of the bundled example images
    GET  /examples/<name>     one example image
    POST /api/recognize       body: the image bytes (any Content-Type but multipart); ?beam=K (the
                              structure's beam), &cell_beam=K (the cell text's; default: the predictor's)
                              -> {html, cells: [{row, col, rowspan, colspan, header, text, html, bbox}],
                                  structure, n_rows, n_cols, width, height, beam, cell_beam, seconds}

Bad input is answered with HTTP 400 and ``{"error": "one line"}``; an unexpected
failure with 500 and the same shape (the traceback goes to the server's stderr,
never to the client).  One recognition runs at a time (a lock around the model).
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from ..table import Table

if TYPE_CHECKING:
    from ..inference import Predictor

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000  # as tablerec.inference (not imported here so that torch loads only with the model)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")
MAX_BEAM = 10
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
             "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class BadRequest(Exception):
    """A client error, answered with HTTP 400 and this message."""


def find_examples_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The folder of example images: ``explicit`` if given, else one shipped with the package or the repo's ``examples/images``."""
    if explicit is not None:
        return Path(explicit)
    package = Path(__file__).resolve().parents[1]  # src/tablerec
    for candidate in (package / "examples" / "images", package / "examples", package.parents[1] / "examples" / "images"):
        if candidate.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in candidate.iterdir()):
            return candidate
    return None


def decode_image(data: bytes):
    """Request bytes -> a fully decoded PIL image the model can read; :class:`tablerec.inference.ImageError` otherwise."""
    from PIL import Image, ImageOps

    from ..inference import ImageError, load_image

    if not data:
        raise ImageError("empty request body: send the image file's bytes as the body")
    if data[:2] == b"--" and b"content-disposition" in data[:1000].lower():
        raise ImageError("multipart upload: send the image file's bytes as the raw body (curl --data-binary @table.png)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(f"image too large: {w}x{h} pixels (limit {MAX_PIXELS:,})")
            im.load()
            image = ImageOps.exif_transpose(im)  # as a browser shows it, so the boxes line up
            if image.mode not in ("RGB", "L", "RGBA", "LA", "P"):
                image = image.convert("RGB")
    except ImageError:
        raise
    except Image.UnidentifiedImageError:
        raise ImageError("not an image (PNG, JPEG, TIFF, BMP, GIF or WebP expected)") from None
    except Exception as exc:  # PIL raises many types on truncated or hostile files
        raise ImageError(f"unreadable image: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return load_image(image)


def table_to_json(table: Table, size: tuple[int, int]) -> dict[str, Any]:
    def box(b):
        return None if b is None else [round(float(v), 1) for v in b]

    return {
        "html": table.to_html(),
        "cells": [
            {"row": c.row, "col": c.col, "rowspan": c.rowspan, "colspan": c.colspan, "header": c.header,
             "text": c.text, "html": c.html, "bbox": box(c.bbox)}
            for c in table.cells
        ],
        "structure": list(table.structure),
        "n_rows": table.n_rows,
        "n_cols": table.n_cols,
        "width": size[0],
        "height": size[1],
    }


class WebApp:
    """What the handlers share: the model (loaded once, on first use), its lock, and where files are."""

    def __init__(self, checkpoint: str | os.PathLike | None = None, device: str | None = None, beam: int = 1,
                 examples: str | os.PathLike | None = None, predictor_factory: Callable[[], Predictor] | None = None,
                 quiet: bool = False) -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.beam = max(1, int(beam))
        self.examples_dir = find_examples_dir(examples)
        self.quiet = quiet
        self._factory = predictor_factory or self._load
        self._predictor: Predictor | None = None
        self._load_lock = threading.Lock()
        self.model_lock = threading.Lock()  # one recognition at a time

    def _load(self) -> Predictor:
        from ..inference import Predictor

        return Predictor(self.checkpoint, device=self.device, beam=self.beam)

    def predictor(self) -> Predictor:
        with self._load_lock:
            if self._predictor is None:
                self._predictor = self._factory()
            return self._predictor

    def info(self) -> dict[str, Any]:
        p = self._predictor
        return {
            "model": p.checkpoint.name if p is not None else (Path(self.checkpoint).name if self.checkpoint else "edd_default.pt"),
            "device": str(p.device) if p is not None else (self.device or "auto"),
            "beam": self.beam,
            "max_beam": MAX_BEAM,
            "max_bytes": MAX_BODY_BYTES,
            "max_pixels": MAX_PIXELS,
        }

    def examples(self) -> list[dict[str, Any]]:
        from PIL import Image

        result = []
        for path in self._example_paths():
            try:
                with Image.open(path) as im:
                    w, h = im.size
            except Exception:  # an unreadable file in the folder is simply not offered
                continue
            result.append({"name": path.name, "url": "/examples/" + path.name, "width": w, "height": h})
        return result

    def _example_paths(self) -> list[Path]:
        d = self.examples_dir
        if d is None or not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))

    def example_path(self, name: str) -> Path | None:
        return next((p for p in self._example_paths() if p.name == name), None)  # only listed names: no traversal

    def recognize(self, data: bytes, beam: int | None, cell_beam: int | None = None) -> dict[str, Any]:
        image = decode_image(data)
        predictor = self.predictor()
        with self.model_lock:
            start = time.perf_counter()
            table = predictor.recognize(image, beam=beam, cell_beam=cell_beam)
            seconds = time.perf_counter() - start
        result = table_to_json(table, image.size)
        result["beam"] = beam or predictor.beam
        result["cell_beam"] = cell_beam or predictor.cell_beam
        result["seconds"] = round(seconds, 3)
        return result


class Handler(BaseHTTPRequestHandler):
    server_version = "tablerec"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # seconds a client may stall while sending; not a limit on recognition time

    @property
    def app(self) -> WebApp:
        return self.server.app  # type: ignore[attr-defined]

    # ---- plumbing ---------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        if not self.app.quiet:
            sys.stderr.write(f"{self.log_date_time_string()} {self.address_string()} {format % args}\n")

    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_bytes(status, body, "application/json; charset=utf-8", {"Cache-Control": "no-store"})

    def send_error_json(self, status: int, message: str) -> None:
        self.send_json(status, {"error": " ".join(message.split())})

    def handle_expect_100(self) -> bool:
        # Refuse an oversized upload before the client sends it.
        if self._declared_length() > MAX_BODY_BYTES:
            self.close_connection = True
            self.send_error_json(400, self._too_big_message())
            return False
        return super().handle_expect_100()

    def _declared_length(self) -> int:
        try:
            return int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return -1

    @staticmethod
    def _too_big_message() -> str:
        return f"request body too large (limit {MAX_BODY_BYTES // 2**20} MB)"

    def _guarded(self, route: Callable[[], None]) -> None:
        try:
            route()
        except BadRequest as exc:
            self.send_error_json(400, str(exc))
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            try:
                self.send_error_json(500, f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            except OSError:
                pass

    # ---- routes -------------------------------------------------------------------
    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_HEAD(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _get(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            self._static("index.html", {"Content-Security-Policy": _PAGE_CSP})
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):])
        elif path == "/favicon.ico":
            self._static("favicon.svg")
        elif path == "/api/info":
            self.send_json(200, self.app.info())
        elif path == "/api/examples":
            self.send_json(200, self.app.examples())
        elif path.startswith("/examples/"):
            example = self.app.example_path(path[len("/examples/"):])
            if example is None:
                self.send_error_json(404, f"no example named {path[len('/examples/'):]!r}")
                return
            ctype = mimetypes.guess_type(example.name)[0] or "application/octet-stream"
            self.send_bytes(200, example.read_bytes(), ctype, {"Cache-Control": "max-age=3600"})
        elif path.startswith("/api/"):
            self.send_error_json(404 if path != "/api/recognize" else 405, f"no such endpoint: GET {path}")
        else:
            self.send_error_json(404, f"not found: {path}")

    def _static(self, name: str, headers: dict[str, str] | None = None) -> None:
        target = STATIC_DIR / name
        allowed = {p.name for p in STATIC_DIR.iterdir() if p.is_file()} if STATIC_DIR.is_dir() else set()
        if "/" in name or name not in allowed:
            self.send_error_json(404, f"not found: /static/{name}")
            return
        ctype = _STATIC_TYPES.get(target.suffix, "application/octet-stream")
        self.send_bytes(200, target.read_bytes(), ctype, {"Cache-Control": "no-cache", **(headers or {})})

    def _post(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/api/recognize":
            self.close_connection = True
            self.send_error_json(404, f"no such endpoint: POST {url.path}")
            return
        query = parse_qs(url.query)
        beam, cell_beam = self._beam(query, "beam"), self._beam(query, "cell_beam")
        data = self._read_body()
        from ..inference import ImageError

        try:
            result = self.app.recognize(data, beam, cell_beam)
        except ImageError as exc:
            raise BadRequest(str(exc)) from None
        self.send_json(200, result)

    def _beam(self, query: dict[str, list[str]], name: str) -> int | None:
        if name not in query:
            return None
        text = query[name][-1]
        try:
            beam = int(text)
        except ValueError:
            self.close_connection = True  # the body is not read
            raise BadRequest(f"{name} must be an integer from 1 to {MAX_BEAM}, not {text!r}") from None
        if not 1 <= beam <= MAX_BEAM:
            self.close_connection = True
            raise BadRequest(f"{name} must be an integer from 1 to {MAX_BEAM}, not {beam}")
        return beam

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise BadRequest("chunked upload not supported: send a Content-Length")
        length = self._declared_length()
        if length < 0:
            self.close_connection = True
            raise BadRequest("bad Content-Length header")
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise BadRequest(self._too_big_message())
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            self.close_connection = True
            raise BadRequest(f"incomplete request body: {len(data)} of {length} bytes")
        return data


class WebServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: WebApp) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}"


def make_server(host: str = "127.0.0.1", port: int = 8000, checkpoint: str | os.PathLike | None = None,
                device: str | None = None, beam: int = 1, examples: str | os.PathLike | None = None,
                predictor_factory: Callable[[], Predictor] | None = None, quiet: bool = False) -> WebServer:
    """A bound (not yet serving) server; ``port=0`` picks a free port (see ``server.url``).  Raises OSError if it cannot listen."""
    app = WebApp(checkpoint, device, beam, examples, predictor_factory, quiet)
    return WebServer((host, port), app)
