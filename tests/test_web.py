"""`tablerec serve`: the page, the examples, POST /api/recognize on good and bad input, the CLI's port error."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tablerec.table import Table
from tablerec.web import MAX_BODY_BYTES, make_server

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "images"


@pytest.fixture(scope="module")
def server(tiny_checkpoint):
    srv = make_server("127.0.0.1", 0, checkpoint=tiny_checkpoint, device="cpu", examples=EXAMPLES, quiet=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()


def example_names() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.png"))


def test_page_and_static_files(server):
    status, ctype, body = request(server, "GET", "/")
    assert status == 200 and ctype.startswith("text/html")
    page = body.decode()
    assert "tablerec" in page and 'id="drop"' in page and "/static/app.js" in page
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        status, ctype, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and kind in ctype and body
    assert request(server, "GET", "/static/../server.py")[0] == 404
    assert request(server, "GET", "/nope")[0] == 404


def test_examples_listed_and_served(server):
    status, ctype, body = request(server, "GET", "/api/examples")
    assert status == 200 and ctype.startswith("application/json")
    listed = json.loads(body)
    assert [e["name"] for e in listed] == example_names()
    first = listed[0]
    assert first["url"] == f"/examples/{first['name']}" and first["width"] > 0 and first["height"] > 0
    status, ctype, body = request(server, "GET", first["url"])
    assert status == 200 and ctype == "image/png" and body == (EXAMPLES / first["name"]).read_bytes()
    assert request(server, "GET", "/examples/..%2F..%2Fpyproject.toml")[0] == 404
    assert request(server, "GET", "/examples/missing.png")[0] == 404


def test_no_examples_folder_is_an_empty_list(tmp_path):
    app_server = make_server("127.0.0.1", 0, examples=tmp_path / "none", quiet=True)
    try:
        assert app_server.app.examples() == []
    finally:
        app_server.server_close()


def test_recognize_an_example(server):
    name = example_names()[0]
    data = (EXAMPLES / name).read_bytes()
    status, ctype, body = request(server, "POST", "/api/recognize", data, {"Content-Type": "image/png"})
    assert status == 200 and ctype.startswith("application/json")
    result = json.loads(body)
    assert set(result) >= {"html", "cells", "structure", "width", "height", "seconds"}
    table = Table.from_html(result["html"])
    assert len(table.cells) == len(result["cells"])
    assert result["cells"], "the biased tiny model emits cells"
    from PIL import Image

    assert (result["width"], result["height"]) == Image.open(EXAMPLES / name).size
    for cell in result["cells"]:
        assert set(cell) >= {"row", "col", "rowspan", "colspan", "text", "bbox"}
        if cell["bbox"] is not None:
            x0, y0, x1, y1 = cell["bbox"]
            assert 0 <= x0 <= x1 <= result["width"] and 0 <= y0 <= y1 <= result["height"]
    status, _, body = request(server, "POST", "/api/recognize?beam=2", data, {"Content-Type": "application/octet-stream"})
    assert status == 200 and (json.loads(body)["beam"], json.loads(body)["cell_beam"]) == (2, 3)  # the cells' default beam
    status, _, body = request(server, "POST", "/api/recognize?cell_beam=2", data, {"Content-Type": "application/octet-stream"})
    assert status == 200 and (json.loads(body)["beam"], json.loads(body)["cell_beam"]) == (1, 2)


@pytest.mark.parametrize(
    "body, headers, message",
    [
        (b"definitely not an image" * 10, {"Content-Type": "image/png"}, "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, {"Content-Type": "image/png"}, "image"),
        (b"", {"Content-Type": "image/png"}, "empty"),
        (b"x", {"Content-Length": str(MAX_BODY_BYTES + 1)}, "too large"),
    ],
    ids=["garbage", "truncated-png", "empty", "too-big"],
)
def test_bad_input_is_a_400_json_error(server, body, headers, message):
    status, ctype, raw = request(server, "POST", "/api/recognize", body, headers)
    assert status == 400 and ctype.startswith("application/json")
    error = json.loads(raw)["error"]
    assert message in error and "\n" not in error and "Traceback" not in error
    assert request(server, "GET", "/api/examples")[0] == 200  # still serving


def test_bad_beam_and_wrong_routes(server):
    png = (EXAMPLES / example_names()[0]).read_bytes()
    status, _, raw = request(server, "POST", "/api/recognize?beam=zero", png)
    assert status == 400 and "beam" in json.loads(raw)["error"]
    status, _, raw = request(server, "POST", "/api/recognize?cell_beam=0", png)
    assert status == 400 and "cell_beam" in json.loads(raw)["error"]
    assert request(server, "POST", "/api/nothing", png)[0] == 404
    assert request(server, "GET", "/api/recognize")[0] == 405


def test_image_too_large_in_pixels(server):
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("1", (8000, 6000)).save(buf, "PNG")  # 48 Mpixel, a few kB
    status, _, raw = request(server, "POST", "/api/recognize", buf.getvalue(), {"Content-Type": "image/png"})
    assert status == 400 and "too large" in json.loads(raw)["error"]


def test_serve_cli_reports_a_busy_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "tablerec", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"tablerec: error: port {port} on 127.0.0.1 is already in use (try --port {port + 1}, or --port 0 for a free one)"


def test_limits_match_the_inference_module():
    from tablerec import inference
    from tablerec.web import server as web_server

    assert web_server.MAX_PIXELS == inference.MAX_PIXELS and web_server.IMAGE_SUFFIXES == inference.IMAGE_SUFFIXES
