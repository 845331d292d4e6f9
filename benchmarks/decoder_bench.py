"""Why transformer decoders: teacher-forced training time of the structure decoder, LSTM vs transformer.

    python benchmarks/decoder_bench.py

The paper's structure decoder is an attention LSTM (hidden 256, soft attention
over the encoder grid, one step at a time).  Ours is a 2-layer pre-norm
transformer decoder (d=256) that teacher-forces all steps at once.  Both get
the same memory (8 tables x 28x28 grid x 256) and T target tokens; we time
forward + backward.  The CPU may be shared: best of 3 repeats.
"""

from __future__ import annotations

import json
import time

import torch
import torch.nn.functional as F
from torch import nn

from tablerec.model import EDDConfig
from tablerec.model.edd import StructureDecoder


class AttentionLSTMDecoder(nn.Module):
    """The paper's decoder shape: embedding -> attention over memory -> LSTMCell, one step at a time."""

    def __init__(self, vocab: int, d: int = 256, hidden: int = 256, attn: int = 256) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.att_mem = nn.Linear(d, attn)
        self.att_hid = nn.Linear(hidden, attn)
        self.att_out = nn.Linear(attn, 1)
        self.cell = nn.LSTMCell(16 + d, hidden)
        self.head = nn.Linear(hidden, vocab)
        self.hidden = hidden

    def forward(self, ids: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        h = memory.new_zeros(b, self.hidden)
        c = memory.new_zeros(b, self.hidden)
        mem_proj = self.att_mem(memory)
        emb = self.embed(ids)
        outs = []
        for step in range(t):
            scores = self.att_out(torch.tanh(mem_proj + self.att_hid(h).unsqueeze(1))).squeeze(-1)
            context = (scores.softmax(-1).unsqueeze(-1) * memory).sum(1)
            h, c = self.cell(torch.cat([emb[:, step], context], -1), (h, c))
            outs.append(self.head(h))
        return torch.stack(outs, 1)


def best_time(fn, repeats: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    torch.manual_seed(0)
    vocab, b, k, d = 50, 8, 28 * 28, 256
    memory = torch.randn(b, k, d)
    transformer = StructureDecoder(EDDConfig(structure_layers=2), vocab)
    lstm = AttentionLSTMDecoder(vocab)
    for t in (100, 300):
        ids = torch.randint(4, vocab, (b, t))

        def run_transformer():
            logits, _ = transformer(ids, transformer.memory_kv(memory))
            F.cross_entropy(logits.flatten(0, 1), ids.flatten()).backward()

        def run_lstm():
            F.cross_entropy(lstm(ids, memory).flatten(0, 1), ids.flatten()).backward()

        row = {"tokens": t, "batch": b, "grid": k, "transformer_2L_s": round(best_time(run_transformer), 3), "attention_lstm_s": round(best_time(run_lstm), 3)}
        row["lstm_over_transformer"] = round(row["attention_lstm_s"] / row["transformer_2L_s"], 1)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
