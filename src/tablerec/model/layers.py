"""Small reusable blocks: a residual CNN block, attention with a KV cache, a pre-norm decoder layer, positions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with batch norm and a (projected) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x), inplace=True)


class Attention(nn.Module):
    """Multi-head attention over ``(B, T, d)`` inputs, with an optional incremental KV cache.

    ``cache`` is a dict this module reads and writes: for self-attention it
    accumulates the keys/values of the steps decoded so far; for
    cross-attention it holds the projected memory, computed once per image.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        assert d_model % n_heads == 0
        self.n_heads = n_heads
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)

    def project_kv(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(source).chunk(2, dim=-1)
        return self._heads(k), self._heads(v)

    def forward(
        self,
        x: torch.Tensor,
        source: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: dict | None = None,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``source`` None means self-attention; ``kv`` gives precomputed memory keys/values."""
        b, t, d = x.shape
        q = self._heads(self.q(x))
        if kv is not None:
            k, v = kv
        else:
            k, v = self.project_kv(x if source is None else source)
            if cache is not None:  # incremental self-attention: append this step's keys/values
                if "k" in cache:
                    k = torch.cat([cache["k"], k], dim=2)
                    v = torch.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
                causal = False  # the new queries come after every cached key
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal and mask is None, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Sequential):
    def __init__(self, d_model: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model), nn.Dropout(dropout))


class DecoderLayer(nn.Module):
    """Pre-norm transformer decoder layer: causal self-attention, cross-attention to the image, MLP.

    ``cross_shape`` lets the cell decoder run self-attention per cell (``C``
    sequences with their own KV caches) but cross-attention per table (one
    block of ``C`` queries) over one shared copy of the table's memory.
    """

    def __init__(self, d_model: int, n_heads: int, ff_mult: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model, n_heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.cross_attn = Attention(d_model, n_heads, dropout)
        self.norm3 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, ff_mult * d_model, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        self_mask: torch.Tensor | None = None,
        cross_bias: torch.Tensor | None = None,
        cache: dict | None = None,
        cross_shape: tuple[int, int] | None = None,
        cross_scatter: tuple[torch.Tensor, torch.Tensor, tuple[int, int]] | None = None,
    ) -> torch.Tensor:
        x = x + self.drop(self.self_attn(self.norm1(x), mask=self_mask, causal=self_mask is None, cache=cache))
        h = self.norm2(x)
        if cross_scatter is not None:
            c = _scattered_cross_attention(self.cross_attn, h, memory_kv, *cross_scatter)
        else:
            if cross_shape is not None:  # regroup the sequences of one table into one query block
                h = h.reshape(cross_shape[0], cross_shape[1], h.shape[-1])
            c = self.cross_attn(h, mask=cross_bias, kv=memory_kv)
        x = x + self.drop(c.reshape(x.shape))
        return x + self.mlp(self.norm3(x))


def _scattered_cross_attention(
    attn: Attention, h: torch.Tensor, memory_kv: tuple[torch.Tensor, torch.Tensor], tokens: torch.Tensor, slots: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """Cross-attention where each query has its own memory row: ``memory_kv`` is ``(R, heads, P, dh)``.

    The queries ``h (B, T, d)`` are packed; token ``tokens[i]`` (an index into ``B*T``) goes to slot
    ``slots[i]`` of an ``R x L`` grid (``shape``), row r being the sequence that reads memory r.  Tokens not
    listed (padding) get a zero output.
    """
    d = h.shape[-1]
    flat = h.reshape(-1, d)
    rows, length = shape
    queries = flat.new_zeros(rows * length, d).index_copy(0, slots, flat[tokens])
    out = attn(queries.view(rows, length, d), kv=memory_kv).reshape(-1, d)
    return flat.new_zeros(flat.shape).index_copy(0, tokens, out[slots])


def sinusoid(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encodings of (float) positions: ``(..., dim)``."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=positions.device) / half)
    angles = positions.float().unsqueeze(-1) * freq
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def sinusoid_2d(height: int, width: int, dim: int, device=None) -> torch.Tensor:
    """2D sinusoidal encodings of a ``height x width`` grid, flattened row-major: ``(height*width, dim)``."""
    ys = torch.arange(height, device=device).repeat_interleave(width)
    xs = torch.arange(width, device=device).repeat(height)
    return torch.cat([sinusoid(ys, dim // 2), sinusoid(xs, dim - dim // 2)], dim=-1)


def box_attention_bias(boxes: torch.Tensor, height: int, width: int, margin: float = 0.5) -> torch.Tensor:
    """Squared distance (in feature cells) of every grid cell centre from each box, 0 inside.

    ``boxes`` are ``(..., 4)`` normalised ``x0, y0, x1, y1``; returns ``(..., height*width)``.
    Scaled by a learned negative factor, it is an attention bias that points
    the cell decoder at its cell while leaving it free to look elsewhere.
    """
    ys = (torch.arange(height, device=boxes.device, dtype=boxes.dtype) + 0.5).repeat_interleave(width)
    xs = (torch.arange(width, device=boxes.device, dtype=boxes.dtype) + 0.5).repeat(height)
    x0 = boxes[..., 0:1] * width - margin
    x1 = boxes[..., 2:3] * width + margin
    y0 = boxes[..., 1:2] * height - margin
    y1 = boxes[..., 3:4] * height + margin
    dx = torch.clamp(x0 - xs, min=0) + torch.clamp(xs - x1, min=0)
    dy = torch.clamp(y0 - ys, min=0) + torch.clamp(ys - y1, min=0)
    return dx * dx + dy * dy
