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
5. **Cell crop reader** (beyond the paper, ``cell_reader="crop"``) — instead of
   the table's 28x28 memory, the cell decoder reads a crop of the cell's box
   taken from the page at (up to) its printed resolution, encoded by a small
   CNN: text squeezed into a 448 px table image is too small to read.

Loss: ``lambda * L_structure + (1 - lambda) * L_cell + box_weight * (L1 + GIoU)``
(+ ``crop_ctc_weight * L_CTC`` on the crop features, when reading crops).

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

from ..table import INLINE_TAG_TOKENS
from .layers import BasicBlock, DecoderLayer, box_attention_bias, sinusoid, sinusoid_2d
from .vocab import SPECIALS, Vocab, cell_vocab, structure_vocab


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
    cell_reader: str = "memory"  # "memory": the paper, cells read the table's memory; "crop": a crop of each cell's box
    crop_size: tuple[int, int] = (32, 256)  # height, width of a cell crop (the box, plus margins, fitted with its aspect)
    crop_widths: tuple[int, int, int] = (16, 32, 64)  # the crop CNN: stem, then stride-2 and stride-(2,1) stages
    page_max_side: int = 1024  # crops are cut from the page scaled down to at most this many pixels a side
    crop_max_scale: float = 2.0  # how far a crop may enlarge its box (small text: more crop columns per character)
    crop_ctc_weight: float = 0.0  # training only: a CTC loss on the crop features' columns (see EDD._crop_ctc)
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

    @property
    def reads_crops(self) -> bool:
        return self.cell_reader == "crop"


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


class CropEncoder(nn.Module):
    """Cell crops ``(N, 1, h, w)`` -> memories ``(N, h/8 * w/4, d)`` for the cell decoder.

    Strides 8 down, 4 across: a text line keeps a few rows, a character about two columns.
    """

    def __init__(self, cfg: EDDConfig) -> None:
        super().__init__()
        stem, mid, out = cfg.crop_widths
        self.stem = nn.Sequential(nn.Conv2d(1, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(inplace=True))
        self.blocks = nn.Sequential(BasicBlock(stem, mid, 2), BasicBlock(mid, out, (2, 1)), BasicBlock(out, out))
        self.proj = nn.Conv2d(out, cfg.d_model, 1)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.blocks(self.stem(crops)))
        memory, _ = Encoder._flatten(x, self.norm)
        return memory


# Margins around a cell's box before cropping, in text lines (the median box height of the page)
# plus a fraction of the box's width: boxes predicted at inference are off by a few pixels, more on
# long cells, and a cut-off character is a lost one.  Lines, not the box's own height, so that a
# cell of three lines is not shrunk to make room for three lines of margin.
CROP_MARGIN_X, CROP_MARGIN_Y, CROP_MARGIN_WIDTH = 1.0, 0.5, 0.1


def crop_cells(pages: torch.Tensor, sizes: torch.Tensor, boxes: torch.Tensor, cfg: EDDConfig) -> torch.Tensor:
    """Cut every cell's box out of its page: ``pages (B, 1, H, W)`` uint8 ink (0 = paper, padded),
    ``sizes (B, 2)`` each page's width and height before padding, ``boxes (B, C, 4)`` normalised -> ``(B, C, h, w)``.

    The box (plus margins) is scaled to fit the crop with its aspect ratio kept (at most
    ``cfg.crop_max_scale`` up), placed top left; the rest of the crop is blank paper.
    """
    b, _, big_h, big_w = pages.shape
    crop_h, crop_w = cfg.crop_size
    width, height = sizes[:, 0:1].to(boxes.dtype), sizes[:, 1:2].to(boxes.dtype)
    x0, y0, x1, y1 = boxes[..., 0] * width, boxes[..., 1] * height, boxes[..., 2] * width, boxes[..., 3] * height
    box_h = y1 - y0
    line = torch.where(box_h > 0, box_h, torch.full_like(box_h, float("nan"))).nanmedian(dim=1, keepdim=True).values
    line = torch.nan_to_num(line, nan=12.0).clamp(min=4.0)  # (B, 1)
    margin_x = CROP_MARGIN_X * line + CROP_MARGIN_WIDTH * (x1 - x0)
    x0, x1 = x0 - margin_x, x1 + margin_x
    y0, y1 = y0 - CROP_MARGIN_Y * line, y1 + CROP_MARGIN_Y * line
    scale = torch.minimum(crop_h / (y1 - y0), crop_w / (x1 - x0).clamp(min=1.0)).clamp(max=cfg.crop_max_scale)
    xs = x0.unsqueeze(-1) + (torch.arange(crop_w, device=boxes.device) + 0.5) / scale.unsqueeze(-1)  # (B, C, w) page pixels
    ys = y0.unsqueeze(-1) + (torch.arange(crop_h, device=boxes.device) + 0.5) / scale.unsqueeze(-1)  # (B, C, h)
    n = boxes.shape[1]
    grid = torch.stack(
        [(2 * xs / big_w - 1).unsqueeze(2).expand(b, n, crop_h, crop_w), (2 * ys / big_h - 1).unsqueeze(3).expand(b, n, crop_h, crop_w)], dim=-1
    )
    # One grid_sample per page, its crops stacked vertically: no copy of the page per cell.
    out = F.grid_sample(pages.to(boxes.dtype) / 255.0, grid.reshape(b, n * crop_h, crop_w, 2), mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = (xs <= x1.unsqueeze(-1)).unsqueeze(2) & (ys <= y1.unsqueeze(-1)).unsqueeze(3)
    return out.view(b, n, crop_h, crop_w) * inside


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
        self.box_bias_scale = nn.Parameter(torch.tensor(1.0)) if cfg.cell_box_bias and not cfg.reads_crops else None

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
        cross_scatter: tuple | None = None,
    ) -> torch.Tensor:
        """Logits for cell tokens, in one of two layouts (the maths is the same):

        * training, packed: ``x (B, T, d)`` holds all the cells of table b one
          after another; ``self_mask (B, 1, T, T)`` keeps each cell to its own
          earlier tokens; ``bias (B, T, h*w)``.
        * decoding: ``x (C, 1, d)``, one new token for each of C cells with a
          KV cache per cell; ``cross_shape=(1, C)`` regroups them into one
          query block over the table's memory; ``bias (1, C, h*w)``.

        With crop reading each cell has its own memory (``memory_kv`` rows are
        cells): in training ``cross_scatter`` (see ``layers.DecoderLayer``) sends
        each packed token to its cell's row; in decoding ``cross_shape=(C, K)``
        makes each cell's K hypotheses one query block over its row, or, once
        some cells have ended, ``cross_scatter`` sends each query to its cell's row.
        """
        cross_bias = bias.unsqueeze(1) if bias is not None else None  # shared by the heads
        for i, layer in enumerate(self.layers):
            x = layer(x, memory_kv[i], self_mask=self_mask, cross_bias=cross_bias, cache=None if caches is None else caches[i], cross_shape=cross_shape,
                      cross_scatter=cross_scatter)
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
        self.crop_encoder = CropEncoder(cfg) if cfg.reads_crops else None
        if cfg.reads_crops and cfg.crop_ctc_weight > 0:
            self.crop_ctc_head = nn.Linear(cfg.d_model, len(self.cell_vocab))  # class 0 (<pad>) is CTC's blank
            not_drawn = [t in SPECIALS or t in INLINE_TAG_TOKENS for t in self.cell_vocab.tokens]
            self.register_buffer("ctc_skip", torch.tensor(not_drawn), persistent=False)
        else:
            self.crop_ctc_head = None

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
            # Teacher forcing for where to read too: the true box (jittered in collate) where there is one.
            guide = torch.where(box_mask.unsqueeze(-1), batch["guide_boxes"], boxes.detach())
            bias = cross_scatter = None
            if cfg.reads_crops:
                memory_kv, cross_scatter, crop_memory = self._crop_memory(batch, guide, seg)
            else:
                memory_kv = self.cell_decoder.memory_kv(cell_memory)
                cell_bias = self.cell_decoder.box_bias(guide, cell_grid)  # (B, C, K), None without box bias
                if cell_bias is not None:
                    bias = torch.gather(cell_bias, 1, seg0.unsqueeze(-1).expand(-1, -1, cell_bias.shape[-1]))
            cell_logits = self.cell_decoder(x, memory_kv, bias, self_mask=self_mask, cross_scatter=cross_scatter)
            out["cell"] = F.cross_entropy(cell_logits.flatten(0, 1), batch["cell_out"].flatten(), ignore_index=0)
            out["loss"] = cfg.structure_weight * loss_structure + (1 - cfg.structure_weight) * out["cell"] + cfg.box_weight * loss_box
            if self.crop_ctc_head is not None:
                out["ctc"] = self._crop_ctc(crop_memory, batch, cross_scatter)
                out["loss"] = out["loss"] + cfg.crop_ctc_weight * out["ctc"]
        else:
            out["loss"] = loss_structure + cfg.box_weight * loss_box
        return out

    def _crop_memory(self, batch: dict[str, torch.Tensor], guide: torch.Tensor, seg: torch.Tensor) -> tuple[list, tuple, torch.Tensor]:
        """Crop reading in training: the memory of every chosen cell (cut at its ``guide`` box), and where
        each packed token reads."""
        valid = batch["cell_valid"]  # (B, C): real cells, not padding
        crops = crop_cells(batch["pages"], batch["page_sizes"], guide, self.config)[valid]  # (N, h, w)
        crop_memory = self.crop_encoder(crops.unsqueeze(1))
        memory_kv = self.cell_decoder.memory_kv(crop_memory)
        row_of_cell = (valid.flatten().cumsum(0) - 1).view(valid.shape)
        t = seg.shape[1]
        tokens = (seg >= 0).flatten().nonzero().squeeze(1)
        rows = row_of_cell[tokens // t, seg.flatten()[tokens]]
        positions = batch["cell_tpos"].flatten()[tokens]
        length = int(positions.max()) + 1 if tokens.numel() else 1
        return memory_kv, (tokens, rows * length + positions, (crops.shape[0], length)), crop_memory

    def _crop_ctc(self, crop_memory: torch.Tensor, batch: dict[str, torch.Tensor], cross_scatter: tuple) -> torch.Tensor:
        """CTC loss of each crop's drawn characters (inline tags and specials left out) read along its
        columns (the max over rows).  It teaches the small crop CNN to see characters, in order, far
        faster than the gradient through the decoder's attention alone; decoding uses it too, to steer the
        decoder (``ctc.CTCPrefixScorer``)."""
        n = crop_memory.shape[0]
        log_probs = self.crop_ctc_log_probs(crop_memory).transpose(0, 1)  # (W, N, V)
        tokens, slots, (_, length) = cross_scatter
        targets = batch["cell_out"].flatten()[tokens]
        drawn = ~self.ctc_skip[targets]
        rows = slots[drawn] // length
        target_lengths = torch.bincount(rows, minlength=n)
        input_lengths = torch.full((n,), log_probs.shape[0], dtype=torch.long, device=log_probs.device)
        # Tokens are packed cell after cell in row order, so the drawn ones concatenate in CTC's layout.
        return F.ctc_loss(log_probs, targets[drawn], input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=True)

    def crop_ctc_log_probs(self, crop_memory: torch.Tensor) -> torch.Tensor:
        """The CTC head's log-probabilities ``(N, W, V)`` along each crop's columns (the max over rows)."""
        n = crop_memory.shape[0]
        crop_h, crop_w = self.config.crop_size
        columns = crop_memory.view(n, crop_h // 8, crop_w // 4, -1).amax(dim=1)  # (N, W, d)
        return self.crop_ctc_head(columns).float().log_softmax(-1)


def prepare_page(image, cfg: EDDConfig) -> torch.Tensor:
    """A PIL image -> the page cell crops are cut from: ``(1, H, W)`` uint8 ink (0 = paper), scaled
    down to at most ``page_max_side`` a side (normalised boxes need no change)."""
    from PIL import Image

    gray = image.convert("L") if image.mode not in ("RGBA", "LA", "P") else _on_white(image).convert("L")
    w, h = gray.size
    scale = min(1.0, cfg.page_max_side / max(w, h))
    if scale < 1.0:
        gray = gray.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    x = torch.frombuffer(bytearray(gray.tobytes()), dtype=torch.uint8).view(1, gray.size[1], gray.size[0])
    return 255 - x


def _on_white(image):
    """Transparent pixels read as white paper."""
    from PIL import Image

    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


def prepare_image(image, cfg: EDDConfig) -> torch.Tensor:
    """A PIL image -> the model's input ``(in_channels, S, S)``: resized (aspect not kept), ink ~1, paper ~0."""
    from PIL import Image

    mode = "L" if cfg.in_channels == 1 else "RGB"
    if image.mode in ("RGBA", "LA", "P"):
        image = _on_white(image)
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
