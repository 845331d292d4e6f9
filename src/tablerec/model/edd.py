"""EDD: encoder-dual-decoder table recognition (Zhong et al., ECCV 2020), as transformers on a CNN.

Reads top to bottom like the paper's Figure 3:

1. **Encoder** — a ResNet-style CNN turns the resized table image into a grid
   of feature vectors (``memory``: ``(B, h*w, d)``, with 2D positions added).
2. **Structure decoder** — autoregressive over structure tokens (``<thead>``,
   ``<tr>``, ``<td>``, ``<td``, `` colspan="2"``, ``>``, ...), attending over the memory.
3. **Cell decoder** — started at every cell opening (``<td>``, or ``>`` closing
   ``<td``): its first input is the structure decoder's hidden state at that
   token, it attends over the same memory and emits the cell's characters and
   inline tags.  All cells of a table run as one batch.
4. **Cell box head** (beyond the paper) — from the same hidden state, a
   normalised ``x0, y0, x1, y1`` box of the cell's content.  The cell decoder's
   attention gets a soft bias towards that box (``cell_box_bias``), which
   teaches it where to read far sooner than attention learnt from scratch.

Loss: ``lambda * L_structure + (1 - lambda) * L_cell + box_weight * (L1 + GIoU)``.

The paper's decoders are attention LSTMs; these are small pre-norm transformer
decoders, because teacher forcing then runs all steps in parallel (the CPU
budget decides what can be trained here) and a KV cache keeps inference
linear per step.  See docs/model.md for the measurements.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .layers import BasicBlock, DecoderLayer, box_attention_bias, sinusoid, sinusoid_2d
from .vocab import Vocab, cell_vocab, structure_vocab


@dataclass
class EDDConfig:
    image_size: int = 448  # images are resized (not padded) to image_size x image_size, as in the paper
    in_channels: int = 1  # grayscale: tables are ink on paper, colour costs compute and teaches little
    stem_width: int = 32  # stem: a stride-2 3x3 conv
    encoder_widths: tuple[int, ...] = (48, 96, 192)  # one residual stage per width ...
    encoder_depths: tuple[int, ...] = (1, 2, 2)  # ... with this many blocks ...
    encoder_strides: tuple[int, ...] = (2, 2, 2)  # ... and this first-block stride (total stride = 2 * product)
    d_model: int = 256
    n_heads: int = 4
    ff_mult: int = 4
    structure_layers: int = 3
    cell_layers: int = 1
    dropout: float = 0.0
    max_structure_len: int = 500  # compressed structure tokens (no implied </td>), without <eos>
    max_cell_len: int = 100  # content tokens of one cell, without <eos>
    max_span: int = 20
    cell_box_bias: bool = True
    cell_fine_memory: bool = False  # the cell decoder reads a stride/2 feature map (see Encoder)
    structure_weight: float = 0.5  # the paper's lambda
    box_weight: float = 1.0

    @property
    def stride(self) -> int:
        s = 2
        for st in self.encoder_strides:
            s *= st
        return s

    @property
    def grid(self) -> tuple[int, int]:
        n = -(-self.image_size // self.stride)
        return n, n

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "EDDConfig":
        known = {f.name for f in fields(cls)}
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in known}
        return cls(**kwargs)


# ---- 1. encoder --------------------------------------------------------------------------


class Encoder(nn.Module):
    def __init__(self, cfg: EDDConfig) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, cfg.stem_width, 3, 2, 1, bias=False),
            nn.BatchNorm2d(cfg.stem_width),
            nn.ReLU(inplace=True),
        )
        stages = []
        in_ch = cfg.stem_width
        for width, depth, stride in zip(cfg.encoder_widths, cfg.encoder_depths, cfg.encoder_strides):
            blocks = [BasicBlock(in_ch, width, stride)] + [BasicBlock(width, width) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*blocks))
            in_ch = width
        self.stages = nn.ModuleList(stages)
        self.proj = nn.Conv2d(in_ch, cfg.d_model, 1)
        self.norm = nn.LayerNorm(cfg.d_model)
        # Optional finer memory for the cell decoder (reading characters wants resolution): the
        # second-to-last stage, plus the last stage upsampled (a one-level feature pyramid).
        self.fine = cfg.cell_fine_memory
        if self.fine:
            self.fine_proj = nn.Conv2d(cfg.encoder_widths[-2], cfg.d_model, 1)
            self.fine_norm = nn.LayerNorm(cfg.d_model)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int], torch.Tensor, tuple[int, int]]:
        """``images (B, C, S, S)`` -> ``memory (B, h*w, d)``, its grid ``(h, w)``, and the cell decoder's memory and grid.

        Without ``cell_fine_memory`` the cell decoder reads the same memory as the structure decoder.
        """
        x = self.stem(images)
        before_last = x
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == len(self.stages) - 2:
                before_last = x
        coarse = self.proj(x)
        memory, grid = self._flatten(coarse, self.norm)
        if not self.fine:
            return memory, grid, memory, grid
        fine = self.fine_proj(before_last) + F.interpolate(coarse, size=before_last.shape[-2:], mode="nearest")
        fine_memory, fine_grid = self._flatten(fine, self.fine_norm)
        return memory, grid, fine_memory, fine_grid

    @staticmethod
    def _flatten(x: torch.Tensor, norm: nn.Module) -> tuple[torch.Tensor, tuple[int, int]]:
        b, d, h, w = x.shape
        memory = x.flatten(2).transpose(1, 2) + sinusoid_2d(h, w, d, device=x.device).to(x.dtype)
        return norm(memory), (h, w)


# ---- 2. structure decoder -------------------------------------------------------------------


class StructureDecoder(nn.Module):
    def __init__(self, cfg: EDDConfig, vocab_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(DecoderLayer(cfg.d_model, cfg.n_heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.structure_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab_size)

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [layer.cross_attn.project_kv(memory) for layer in self.layers]

    def forward(self, ids: torch.Tensor, memory_kv: list, start: int = 0, caches: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``ids (B, T)`` at positions ``start..start+T`` -> ``logits (B, T, V)``, ``hidden (B, T, d)``."""
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.embed(ids) + sinusoid(positions, self.embed.embedding_dim)
        for i, layer in enumerate(self.layers):
            x = layer(x, memory_kv[i], cache=None if caches is None else caches[i])
        hidden = self.norm(x)
        return self.head(hidden), hidden


# ---- 3. cell decoder ---------------------------------------------------------------------------


class CellDecoder(nn.Module):
    def __init__(self, cfg: EDDConfig, vocab_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.d_model)
        self.start = nn.Linear(cfg.d_model, cfg.d_model)  # structure hidden state -> first input of the cell
        self.layers = nn.ModuleList(DecoderLayer(cfg.d_model, cfg.n_heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.cell_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab_size)
        # Strength of the pull towards the cell's box, learnt (softplus keeps it >= 0).
        self.box_bias_scale = nn.Parameter(torch.tensor(1.0)) if cfg.cell_box_bias else None

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [layer.cross_attn.project_kv(memory) for layer in self.layers]

    def box_bias(self, boxes: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor | None:
        """``boxes (B, C, 4)`` -> attention bias ``(B, C, h*w)`` (None without box bias)."""
        if self.box_bias_scale is None:
            return None
        return -F.softplus(self.box_bias_scale) * box_attention_bias(boxes, *grid)

    def inputs(self, start_hidden: torch.Tensor, ids: torch.Tensor, is_start: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Input vectors ``(N, T, d)``: where ``is_start``, the projected structure state; elsewhere token embeddings."""
        x = torch.where(is_start.unsqueeze(-1), self.start(start_hidden), self.embed(ids))
        return x + sinusoid(positions, x.shape[-1])

    def forward(
        self,
        x: torch.Tensor,
        memory_kv: list,
        bias: torch.Tensor | None,
        self_mask: torch.Tensor | None = None,
        caches: list | None = None,
        cross_shape: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Logits for cell tokens, in one of two layouts (the maths is the same):

        * training, packed: ``x (B, T, d)`` holds all the cells of table b one
          after another; ``self_mask (B, 1, T, T)`` keeps each cell to its own
          earlier tokens; ``bias (B, T, h*w)``.
        * decoding: ``x (C, 1, d)``, one new token for each of C cells with a
          KV cache per cell; ``cross_shape=(1, C)`` regroups them into one
          query block over the table's memory; ``bias (1, C, h*w)``.
        """
        cross_bias = bias.unsqueeze(1) if bias is not None else None  # shared by the heads
        for i, layer in enumerate(self.layers):
            x = layer(x, memory_kv[i], self_mask=self_mask, cross_bias=cross_bias, cache=None if caches is None else caches[i], cross_shape=cross_shape)
        return self.head(self.norm(x))


# ---- 4. cell box head ---------------------------------------------------------------------------


class BoxHead(nn.Module):
    """Structure hidden state -> normalised ``x0, y0, x1, y1`` (predicted as centre and size)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, 4))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        cx, cy, w, h = self.mlp(hidden).sigmoid().unbind(-1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1).clamp(0, 1)


# ---- the model --------------------------------------------------------------------------------


class EDD(nn.Module):
    def __init__(self, cfg: EDDConfig, structure: Vocab | None = None, cells: Vocab | None = None) -> None:
        super().__init__()
        self.config = cfg
        self.structure_vocab = structure or structure_vocab(cfg.max_span)
        self.cell_vocab = cells or cell_vocab()
        self.encoder = Encoder(cfg)
        self.structure_decoder = StructureDecoder(cfg, len(self.structure_vocab))
        self.cell_decoder = CellDecoder(cfg, len(self.cell_vocab))
        self.box_head = BoxHead(cfg.d_model)

    def forward(self, batch: dict[str, torch.Tensor], with_cells: bool = True) -> dict[str, torch.Tensor]:
        """Teacher-forced losses for a collated batch (see ``training.collate``).

        ``with_cells=False`` is the paper's structure-only warm-up stage.
        """
        cfg = self.config
        memory, grid, cell_memory, cell_grid = self.encoder(batch["images"])

        # Structure: predict target[t] from input[:t+1]; padding (id 0) is ignored.
        logits, hidden = self.structure_decoder(batch["structure_in"], self.structure_decoder.memory_kv(memory))
        loss_structure = F.cross_entropy(logits.flatten(0, 1), batch["structure_out"].flatten(), ignore_index=0)

        # The hidden state that emitted each cell opening conditions that cell.
        cell_pos = batch["cell_pos"]  # (B, C) index into the structure sequence
        cell_hidden = torch.gather(hidden, 1, cell_pos.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))  # (B, C, d)
        boxes = self.box_head(cell_hidden)
        box_mask = batch["box_mask"]
        if box_mask.any():
            pred, true = boxes[box_mask], batch["boxes"][box_mask]
            loss_box = F.l1_loss(pred, true) + (1 - generalized_iou(pred, true)).mean()
        else:
            loss_box = boxes.sum() * 0.0
        out = {"structure": loss_structure, "box": loss_box}

        if with_cells:
            # Cells are packed per table (no padding to the longest cell): see CellDecoder.forward.
            seg = batch["cell_seg"]  # (B, T) which chosen cell each token belongs to, -1 for padding
            seg0 = seg.clamp(min=0)
            start_hidden = torch.gather(cell_hidden, 1, seg0.unsqueeze(-1).expand(-1, -1, cell_hidden.shape[-1]))
            x = self.cell_decoder.inputs(start_hidden, batch["cell_in"], batch["cell_is_start"], batch["cell_tpos"])
            t = seg.shape[1]
            causal = torch.ones(t, t, dtype=torch.bool, device=seg.device).tril()
            self_mask = ((seg.unsqueeze(2) == seg.unsqueeze(1)) & causal).unsqueeze(1)
            bias = None
            if cfg.cell_box_bias:
                # Teacher forcing for the box too: the true box (jittered in collate) where there is one.
                guide = torch.where(box_mask.unsqueeze(-1), batch["guide_boxes"], boxes.detach())
                cell_bias = self.cell_decoder.box_bias(guide, cell_grid)  # (B, C, K)
                bias = torch.gather(cell_bias, 1, seg0.unsqueeze(-1).expand(-1, -1, cell_bias.shape[-1]))
            cell_logits = self.cell_decoder(x, self.cell_decoder.memory_kv(cell_memory), bias, self_mask=self_mask)
            out["cell"] = F.cross_entropy(cell_logits.flatten(0, 1), batch["cell_out"].flatten(), ignore_index=0)
            out["loss"] = cfg.structure_weight * loss_structure + (1 - cfg.structure_weight) * out["cell"] + cfg.box_weight * loss_box
        else:
            out["loss"] = loss_structure + cfg.box_weight * loss_box
        return out


def prepare_image(image, cfg: EDDConfig) -> torch.Tensor:
    """A PIL image -> the model's input ``(in_channels, S, S)``: resized (aspect not kept), ink ~1, paper ~0."""
    from PIL import Image

    mode = "L" if cfg.in_channels == 1 else "RGB"
    if image.mode in ("RGBA", "LA", "P"):  # transparent pixels read as white paper
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    resized = image.convert(mode).resize((cfg.image_size, cfg.image_size), Image.BILINEAR)
    x = torch.frombuffer(bytearray(resized.tobytes()), dtype=torch.uint8).float()
    x = x.view(cfg.image_size, cfg.image_size, cfg.in_channels).permute(2, 0, 1)
    return 1.0 - x / 255.0


def generalized_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GIoU of matching ``x0, y0, x1, y1`` boxes ``(N, 4)`` -> ``(N,)``."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = area_a + area_b - inter
    iou = inter / union.clamp(min=1e-7)
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(-1)
    return iou - (hull - union) / hull.clamp(min=1e-7)
