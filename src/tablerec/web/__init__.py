"""`tablerec serve`: a small web page over the Python API (drop a table image, get its HTML).

The server is Python's standard library only (``http.server``); the page is a
few static files in ``static/``.  It imports :mod:`tablerec.inference`, never
the other way round.

    from tablerec.web import make_server
    server = make_server("127.0.0.1", 8000)      # server.app.predictor() loads the model
    server.serve_forever()
"""

from .server import MAX_BODY_BYTES, WebApp, find_examples_dir, make_server

__all__ = ["MAX_BODY_BYTES", "WebApp", "find_examples_dir", "make_server"]
