"""tablerec: image-based table recognition — a picture of a table in, the table's HTML out.

Implements "Image-based table recognition: data, model, and evaluation"
(Zhong, ShafieiBavani, Jimeno Yepes; ECCV 2020): the PubTabNet data format,
the EDD model, and the TEDS metric.  Heavy parts (torch) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .table import Cell, Table, TableError

__version__ = "0.1.0"
__all__ = ["Cell", "Table", "TableError", "TEDS", "recognize", "__version__"]

if TYPE_CHECKING:
    from .inference import recognize
    from .metrics import TEDS


def __getattr__(name: str) -> Any:
    # Lazy so that `import tablerec` (and `tablerec eval`) never pays for torch.
    if name == "TEDS":
        from .metrics import TEDS

        return TEDS
    if name == "recognize":
        from .inference import recognize

        return recognize
    raise AttributeError(f"module 'tablerec' has no attribute {name!r}")
