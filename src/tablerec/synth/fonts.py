"""The Debian TrueType fonts the renderer draws with, found on disk and cached per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import ImageFont

if TYPE_CHECKING:
    from .config import SynthConfig

FONT_ROOT = Path("/usr/share/fonts/truetype")
# The Debian package of each family's files (by the folder under FONT_ROOT).
FONT_PACKAGES = {"liberation": "fonts-liberation", "dejavu": "fonts-dejavu-core", "freefont": "fonts-freefont-ttf"}
INSTALL_HINT = "apt-get install " + " ".join(FONT_PACKAGES.values())

# family -> (serif?, regular, bold, italic, bold italic) relative to FONT_ROOT.
# A family is usable when its regular, bold and italic files exist (fonts-dejavu-core
# ships no italics, so DejaVu is only used when the full fonts-dejavu is installed).
FAMILY_FILES: dict[str, tuple[bool, str, str, str, str]] = {
    "Liberation Sans": (False, "liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf",
                        "liberation/LiberationSans-Italic.ttf", "liberation/LiberationSans-BoldItalic.ttf"),
    "Liberation Serif": (True, "liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSerif-Bold.ttf",
                         "liberation/LiberationSerif-Italic.ttf", "liberation/LiberationSerif-BoldItalic.ttf"),
    "Liberation Sans Narrow": (False, "liberation/LiberationSansNarrow-Regular.ttf",
                               "liberation/LiberationSansNarrow-Bold.ttf", "liberation/LiberationSansNarrow-Italic.ttf",
                               "liberation/LiberationSansNarrow-BoldItalic.ttf"),
    "DejaVu Sans": (False, "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSans-Oblique.ttf",
                    "dejavu/DejaVuSans-BoldOblique.ttf"),
    "DejaVu Sans Condensed": (False, "dejavu/DejaVuSansCondensed.ttf", "dejavu/DejaVuSansCondensed-Bold.ttf",
                              "dejavu/DejaVuSansCondensed-Oblique.ttf", "dejavu/DejaVuSansCondensed-BoldOblique.ttf"),
    "DejaVu Serif": (True, "dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf", "dejavu/DejaVuSerif-Italic.ttf",
                     "dejavu/DejaVuSerif-BoldItalic.ttf"),
    "FreeSans": (False, "freefont/FreeSans.ttf", "freefont/FreeSansBold.ttf", "freefont/FreeSansOblique.ttf",
                 "freefont/FreeSansBoldOblique.ttf"),
    "FreeSerif": (True, "freefont/FreeSerif.ttf", "freefont/FreeSerifBold.ttf", "freefont/FreeSerifItalic.ttf",
                  "freefont/FreeSerifBoldItalic.ttf"),
}


# Chinese faces for SynthConfig.chinese_probability (a Ming/Song serif and a sans, as Chinese annual reports
# set them).  Kept out of FAMILY_FILES so that tables without Chinese keep drawing from the same families.
# One file each: Chinese type has no italic, and its bold is rare in tables, so all four faces are the regular.
CJK_FAMILY_FILES: dict[str, tuple[bool, str]] = {
    "AR PL UMing": (True, "arphic/uming.ttc"),
    "WenQuanYi Micro Hei": (False, "wqy/wqy-microhei.ttc"),
}
CJK_INSTALL_HINT = "apt-get install fonts-arphic-uming fonts-wqy-microhei"


class FontsMissing(RuntimeError):
    """No usable font family on this machine (the message says what to install)."""


@dataclass(frozen=True)
class Family:
    name: str
    serif: bool
    regular: str
    bold: str
    italic: str
    bold_italic: str

    def path(self, bold: bool, italic: bool) -> str:
        if bold and italic:
            return self.bold_italic
        return self.bold if bold else self.italic if italic else self.regular


def available_families(names: tuple[str, ...] | None = None, root: str | Path | None = None) -> tuple[Family, ...]:
    """The usable families among ``names`` (all known ones if None), in a fixed order."""
    return _available_families(tuple(names) if names else None, str(root or FONT_ROOT))


@lru_cache(maxsize=8)
def _available_families(names: tuple[str, ...] | None, root: str) -> tuple[Family, ...]:
    wanted = names if names else tuple(FAMILY_FILES)
    unknown = [n for n in wanted if n not in FAMILY_FILES]
    if unknown:
        raise FontsMissing(f"unknown font family {unknown[0]!r}; choose from: {', '.join(FAMILY_FILES)}")
    found = []
    for name in wanted:
        serif, *files = FAMILY_FILES[name]
        paths = [Path(root) / f for f in files]
        if all(p.is_file() for p in paths[:3]):
            bold_italic = paths[3] if paths[3].is_file() else paths[1]
            found.append(Family(name, serif, str(paths[0]), str(paths[1]), str(paths[2]), str(bold_italic)))
    if not found:
        raise FontsMissing(f"no usable fonts ({', '.join(wanted)}) under {root}; install them with: {INSTALL_HINT}")
    return tuple(found)


def missing_font_packages(config: SynthConfig) -> list[str]:
    """The packages of the families ``config`` draws from that are not installed: a seed's tables are drawn
    from the families found, so without them they are other tables than on a machine with them."""
    available = {family.name for family in available_families(config.fonts)}
    wanted = config.fonts or tuple(FAMILY_FILES)
    packages = {FONT_PACKAGES[FAMILY_FILES[name][1].split("/")[0]] for name in wanted if name not in available}
    return sorted(packages)


def cjk_families(root: str | Path | None = None) -> tuple[Family, ...]:
    """The installed Chinese families, in a fixed order; FontsMissing (with what to install) if none is."""
    return _cjk_families(str(root or FONT_ROOT))


@lru_cache(maxsize=8)
def _cjk_families(root: str) -> tuple[Family, ...]:
    found = []
    for name, (serif, file) in CJK_FAMILY_FILES.items():
        path = Path(root) / file
        if path.is_file():
            found.append(Family(name, serif, *[str(path)] * 4))
    if not found:
        raise FontsMissing(f"no Chinese fonts under {root} (for chinese_probability); install them with: {CJK_INSTALL_HINT}")
    return tuple(found)


def require_fonts(config: SynthConfig) -> None:
    """Raise FontsMissing (naming the packages) now, before any table, if ``config``'s tables need absent fonts."""
    available_families(config.fonts)
    if config.chinese_probability > 0:
        cjk_families()


@lru_cache(maxsize=48)  # a table uses <= 8 faces; each costs ~0.25 MB, so keep the cache small
def font(path: str, size: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: faster than raqm and the same on machines with or without libraqm.
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=4096)
def has_glyph(path: str, char: str) -> bool:
    """True if the font draws ``char`` with a real glyph rather than its missing-glyph box."""
    if char.isascii():
        return True
    probe = font(path, 24)
    missing = probe.getmask("\U000F0000")  # a private-use code point no Debian font maps
    mask = probe.getmask(char)
    return not (mask.size == missing.size and bytes(mask) == bytes(missing))
