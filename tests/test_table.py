import json

import pytest

from tablerec.table import Table, TableError, logical_grid


def _records(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_round_trip_is_identity_on_real_examples(pubtabnet_examples, ctdar):
    for path in (pubtabnet_examples / "annotations.jsonl", ctdar / "annotations.jsonl"):
        for record in _records(path):
            table = Table.from_record(record)
            assert table.to_record() == record
            again = Table.from_html(table.to_html(), filename=record["filename"])
            assert again.structure == table.structure
            assert [c.tokens for c in again.cells] == [c.tokens for c in table.cells]


def test_html_matches_the_reference_ground_truth_strings(shared, pubtabnet_examples):
    tables = {r["filename"]: Table.from_record(r) for r in _records(pubtabnet_examples / "annotations.jsonl")}
    checked = 0
    for vector in _records(shared / "teds_vectors" / "pubtabnet_examples.jsonl"):
        if vector["id"].endswith(":identity"):
            filename = vector["id"].split(":")[1]
            assert tables[filename].to_html() == vector["gt"]
            checked += 1
    assert checked == 20


def test_logical_grid_places_cells_around_rowspans():
    structure = ["<tbody>", "<tr>", "<td", ' rowspan="2"', ">", "</td>", "<td>", "</td>", "</tr>",
                 "<tr>", "<td>", "</td>", "</tr>", "</tbody>"]
    assert logical_grid(structure) == [(0, 0, 2, 1, False), (0, 1, 1, 1, False), (1, 1, 1, 1, False)]


def test_from_html_handles_th_spans_inline_markup_and_escaping():
    html = ('<table><thead><tr><th colspan="2"><strong>A</strong> &amp; b</th></tr></thead>'
            '<tbody><tr><td>x<sup>2</sup><br>y</td><td><span>&lt;i&gt;</span></td></tr></tbody></table>')
    table = Table.from_html(html)
    assert table.structure[:5] == ["<thead>", "<tr>", "<td", ' colspan="2"', ">"]
    assert table.cells[0].tokens == ["<b>", "A", "</b>", " ", "&", " ", "b"]
    assert table.cells[0].header and table.cells[0].colspan == 2
    assert table.cells[1].tokens == ["x", "<sup>", "2", "</sup>", " ", "y"]
    # Text that looks like a tag stays text: escaped on the way out, never markup.
    assert table.cells[2].tokens == ["<", "i", ">"]
    assert "<td>&lt;i&gt;</td>" in table.to_html()
    assert (table.n_rows, table.n_cols) == (2, 2)


@pytest.mark.parametrize("bad", ["", "   ", "<p>no table here</p>", "\x00\x01"])
def test_from_html_rejects_non_tables_with_a_clear_error(bad):
    with pytest.raises(TableError):
        Table.from_html(bad)


def test_cell_count_must_match_structure():
    with pytest.raises(TableError, match="2 cell openings"):
        Table.from_record({"html": {"structure": {"tokens": ["<tr>", "<td>", "</td>", "<td>", "</td>", "</tr>"]},
                                    "cells": [{"tokens": []}]}})


def test_old_cell_key_is_accepted():
    table = Table.from_record({"filename": "a.png", "html": {"structure": {"tokens": ["<tr>", "<td>", "</td>", "</tr>"]},
                                                             "cell": [{"tokens": ["1"], "bbox": [0, 0, 5, 5]}]}})
    assert table.cells[0].text == "1" and table.cells[0].bbox == (0, 0, 5, 5)
