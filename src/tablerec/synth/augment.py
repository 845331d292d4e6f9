"""Image-only augmentation: rescale, slight rotation, blur, noise, JPEG artefacts, faded scans.

Geometric steps move the boxes with the same affine map as the pixels (corners
mapped, then rounded outwards); photometric steps leave the boxes alone.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageFilter

Box = tuple[int, int, int, int]


def augment(image: Image.Image, boxes: list[Box | None], rng: random.Random,
            max_skew_degrees: float = 0.6) -> tuple[Image.Image, list[Box | None], list[str]]:
    """Apply a random subset of augmentations; returns the new image, the moved boxes and what was done."""
    done: list[str] = []
    if rng.random() < 0.5:
        scale = rng.uniform(0.75, 1.35)
        image, boxes = rescale(image, boxes, scale)
        done.append(f"scale {scale:.3f}")
    if max_skew_degrees > 0 and rng.random() < 0.4:
        angle = rng.uniform(-max_skew_degrees, max_skew_degrees)
        image, boxes = rotate(image, boxes, angle)
        done.append(f"rotate {angle:.3f}")
    if rng.random() < 0.35:
        radius = rng.uniform(0.3, 0.9)
        image = image.filter(ImageFilter.GaussianBlur(radius))
        done.append(f"blur {radius:.2f}")
    if rng.random() < 0.25:
        image = fade(image, rng.randint(215, 245), rng.randint(0, 60))
        done.append("fade")
    if rng.random() < 0.3:
        sigma = rng.uniform(2, 9)
        image = add_noise(image, sigma, rng.getrandbits(32))
        done.append(f"noise {sigma:.1f}")
    if rng.random() < 0.4:
        quality = rng.randint(30, 85)
        image = jpeg(image, quality)
        done.append(f"jpeg {quality}")
    return image, boxes, done


def _affine_boxes(boxes: list[Box | None], forward, width: int, height: int) -> list[Box | None]:
    out: list[Box | None] = []
    for box in boxes:
        if box is None:
            out.append(None)
            continue
        x0, y0, x1, y1 = box
        pts = [forward(x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
        nx0 = max(0, math.floor(min(p[0] for p in pts)))
        ny0 = max(0, math.floor(min(p[1] for p in pts)))
        nx1 = min(width, math.ceil(max(p[0] for p in pts)))
        ny1 = min(height, math.ceil(max(p[1] for p in pts)))
        out.append((nx0, ny0, max(nx1, nx0 + 1), max(ny1, ny0 + 1)))
    return out


def rescale(image: Image.Image, boxes: list[Box | None], scale: float,
            resample: Image.Resampling = Image.Resampling.BILINEAR) -> tuple[Image.Image, list[Box | None]]:
    """Resize by ``scale`` (down or up); pixel edges map as x -> x * (new width / old width)."""
    w, h = image.size
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    sx, sy = nw / w, nh / h
    resized = image.resize((nw, nh), resample)
    return resized, _affine_boxes(boxes, lambda x, y: (x * sx, y * sy), nw, nh)


def rotate(image: Image.Image, boxes: list[Box | None], degrees: float) -> tuple[Image.Image, list[Box | None]]:
    """Rotate about the centre, growing the canvas so nothing is cut; white fill."""
    w, h = image.size
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    nw = int(math.ceil(abs(w * cos) + abs(h * sin)))
    nh = int(math.ceil(abs(w * sin) + abs(h * cos)))
    cx, cy, ncx, ncy = w / 2, h / 2, nw / 2, nh / 2

    def forward(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return ncx + cos * dx - sin * dy, ncy + sin * dx + cos * dy

    # Image.transform wants the inverse map, output -> input, in continuous pixel coordinates.
    inverse = (cos, sin, cx - cos * ncx - sin * ncy, -sin, cos, cy + sin * ncx - cos * ncy)
    white = 255 if image.mode == "L" else (255, 255, 255)
    rotated = image.transform((nw, nh), Image.Transform.AFFINE, inverse, resample=Image.Resampling.BILINEAR,
                              fillcolor=white)
    return rotated, _affine_boxes(boxes, forward, nw, nh)


def fade(image: Image.Image, paper: int, ink: int) -> Image.Image:
    """Map white to ``paper`` grey and black to ``ink`` grey, like a pale scan."""
    lut = [round(ink + (paper - ink) * v / 255) for v in range(256)] * len(image.getbands())
    return image.point(lut)


def add_noise(image: Image.Image, sigma: float, seed: int) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    # Same noise on every channel: scanner noise is mostly luminance.
    noise = np.random.default_rng(seed).normal(0, sigma, image.size[::-1]).astype(np.float32)
    pixels = pixels + (noise if pixels.ndim == 2 else noise[:, :, None])
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), image.mode)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert(image.mode)
