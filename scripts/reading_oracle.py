"""How well does the cell reader read when structure (and boxes) are right?  Splits a model's TEDS gap
into reading and layout.

    python scripts/reading_oracle.py GT.jsonl IMAGE_DIR [--model WEIGHTS] [--limit N] [--mixed] [--per-table]

For every table the structure decoder is teacher-forced on the true structure (so every true cell has
its hidden state), then every cell is read greedily three times: from a crop at its true box, at the
box the box head predicts for it, and at that box snapped to the page's text (``tablerec.model.snap``;
a cell of several lines or a long line read in pieces, as ``tablerec predict`` does).  Prints exact cell-text accuracy (inline tags ignored, empty true cells
skipped) by length for each, and the mean IoU of the predicted and snapped boxes with the true ones.
``--mixed`` also reads at the snapped box with the true box's top and bottom, and with its left and
right (each read whole, not in pieces), which tells a misplacement down from one across.  ``--per-table`` lists the tables with the
most snapped boxes off their line.  Only for models that read cell crops.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import torch

from tablerec.inference import load_image
from tablerec.model import load_model
from tablerec.model.beam import read_crops
from tablerec.model.edd import prepare_image, prepare_page
from tablerec.model.snap import snap_boxes
from tablerec.model.vocab import cell_opening_positions, compress_structure
from tablerec.pubtabnet import read_tables
from tablerec.table import INLINE_TAG_TOKENS, logical_grid

BUCKETS = ("1-8", "9-20", "21+")
BOXES = ("true box", "predicted box", "snapped box")
MIXED = ("snapped, true top and bottom", "snapped, true left and right")


def bucket(text: str) -> str:
    return "1-8" if len(text) <= 8 else "9-20" if len(text) <= 20 else "21+"


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda x: (x[:, 2] - x[:, 0]).clamp(min=0) * (x[:, 3] - x[:, 1]).clamp(min=0)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gt")
    parser.add_argument("images")
    parser.add_argument("--model", default=None, help="exported weights or checkpoint (default: the shipped model)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--mixed", action="store_true", help="also read at snapped boxes with the true top/bottom, or left/right")
    parser.add_argument("--per-table", action="store_true", help="list the tables with the most snapped boxes off their line")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.model is None:
        from tablerec.inference import default_predictor

        model = default_predictor().model
    else:
        model = load_model(args.model)
    model.eval()
    cfg = model.config
    if not cfg.reads_crops:
        raise SystemExit("this model does not read cell crops")
    names = BOXES + MIXED if args.mixed else BOXES
    right = {name: Counter() for name in names}
    per_table = []  # (snapped boxes off their line, off across, cells, filename)
    total, ious = Counter(), {"predicted box": [], "snapped box": []}
    off_line, height_ratio = {"predicted box": [], "snapped box": []}, []
    off_column = {"predicted box": [], "snapped box": []}
    tables = list(read_tables(args.gt))[: args.limit or None]
    for table in tables:
        image = load_image(Path(args.images) / table.filename)
        compressed = compress_structure(table.structure)
        openings = cell_opening_positions(compressed)
        if len(openings) != len(table.cells) or len(compressed) > cfg.max_structure_len:
            continue
        memory, *_ = model.encoder(prepare_image(image, cfg).unsqueeze(0))
        ids = torch.tensor([[model.structure_vocab.sos_id, *model.structure_vocab.encode(compressed)]])
        _, hidden = model.structure_decoder(ids, model.structure_decoder.memory_kv(memory))
        with_box = [i for i, c in enumerate(table.cells) if c.bbox is not None and c.text.strip()]
        if not with_box:
            continue
        # Snapping sees every cell of the table (the box head gives empty ones a box too).
        all_boxes = model.box_head(hidden[0, torch.tensor(openings)])
        page = prepare_page(image, cfg)
        grid = [place[:4] for place in logical_grid(table.structure)]
        snap = snap_boxes(page[0].numpy(), all_boxes.numpy(), grid)
        snapped = torch.as_tensor(snap.boxes, dtype=torch.float32)
        cell_hidden = hidden[0, torch.tensor([openings[i] for i in with_box])]
        width, height = image.size
        true_boxes = torch.tensor([[v / s for v, s in zip(table.cells[i].bbox, (width, height, width, height))] for i in with_box]).clamp(0, 1)
        boxes = {"true box": true_boxes, "predicted box": all_boxes[with_box], "snapped box": snapped[with_box]}
        if args.mixed:
            boxes[MIXED[0]], boxes[MIXED[1]] = snapped[with_box].clone(), snapped[with_box].clone()
            boxes[MIXED[0]][:, [1, 3]] = true_boxes[:, [1, 3]]
            boxes[MIXED[1]][:, [0, 2]] = true_boxes[:, [0, 2]]
        true_height = (true_boxes[:, 3] - true_boxes[:, 1]).clamp(min=1e-6)
        height_ratio.extend(((boxes["predicted box"][:, 3] - boxes["predicted box"][:, 1]) / true_height).tolist())
        for name in ious:
            ious[name].extend(box_iou(boxes[name], true_boxes).tolist())
            centre_error = ((boxes[name][:, 1] + boxes[name][:, 3]) - (true_boxes[:, 1] + true_boxes[:, 3])).abs() / 2
            off_line[name].extend((centre_error > true_height / 2).tolist())
            # Across: the box's centre outside the true box (the words of another column, or a part of the cell).
            centre_x = (boxes[name][:, 0] + boxes[name][:, 2]) / 2
            off_column[name].extend(((centre_x < true_boxes[:, 0]) | (centre_x > true_boxes[:, 2])).tolist())
        n = len(with_box)
        per_table.append((sum(off_line["snapped box"][-n:]), sum(off_column["snapped box"][-n:]), n, table.filename))
        texts = [table.cells[i].text.strip() for i in with_box]
        for text in texts:
            total[bucket(text)] += 1
        for name in names:
            pieces = [snap.pieces[i] for i in with_box] if name == "snapped box" else None
            read = read_crops(model, page, boxes[name], cell_hidden, pieces)
            for text, cell_tokens in zip(texts, read):
                tokens = [t for t in cell_tokens if t not in INLINE_TAG_TOKENS]
                right[name][bucket(text)] += "".join(tokens).strip() == text
    mean_iou = {name: sum(v) / max(1, len(v)) for name, v in ious.items()}
    print(f"{len(tables)} tables, {sum(total.values())} non-empty cells with a box; mean IoU with the true box: "
          f"predicted {mean_iou['predicted box']:.3f}, snapped {mean_iou['snapped box']:.3f}")
    for name, flags in off_line.items():
        print(f"{name}: centre more than half its true height off, up or down: {sum(flags) / max(1, len(flags)):.1%} of cells")
    for name, flags in off_column.items():
        print(f"{name}: centre outside its true box across: {sum(flags) / max(1, len(flags)):.1%} of cells")
    print(f"predicted box height / true height: median {float(torch.tensor(height_ratio).median()):.2f}")
    print("| cell length | cells | read exactly: " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for b in BUCKETS:
        if total[b]:
            cols = [f"{right[n][b]} ({right[n][b] / total[b]:.1%})" for n in names]
            print(f"| {b} | {total[b]} | " + " | ".join(cols) + " |")
    if args.per_table:
        print("\n| table | cells | snapped box off its line | off across |\n|---|---|---|---|")
        for off, across, n, name in sorted(per_table, reverse=True)[:15]:
            print(f"| {name} | {n} | {off} | {across} |")


if __name__ == "__main__":
    main()
