import json

from tablerec.cli import main
from tablerec.pubtabnet import iter_records, load_html_map, read_tables, validate_table, write_jsonl
from tablerec.table import Table


def _table(structure, n_cells=None, bboxes=None):
    n = n_cells if n_cells is not None else sum(t in ("<td>", "<td") for t in structure)
    bboxes = bboxes or [None] * n
    return Table.from_record({"filename": "t.png", "html": {"structure": {"tokens": structure},
                              "cells": [{"tokens": ["x"], **({"bbox": b} if b else {})} for b in bboxes]}})


ROW2 = ["<tr>", "<td>", "</td>", "<td>", "</td>", "</tr>"]


def test_stream_survives_bad_lines(tmp_path, pubtabnet_examples):
    good = (pubtabnet_examples / "annotations.jsonl").read_bytes().splitlines()[:2]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(good[0] + b"\n{broken\n\xff\xfe\n[1, 2]\n" + good[1] + b"\n")
    seen = list(iter_records(path))
    assert [(n, r is not None) for n, r, _ in seen] == [(1, True), (2, False), (3, False), (4, False), (5, True)]
    assert "invalid JSON" in seen[1][2] and "UTF-8" in seen[2][2]
    errors = []
    assert len(list(read_tables(path, errors))) == 2 and len(errors) == 3


def test_write_then_read_is_identity(tmp_path, pubtabnet_examples):
    tables = list(read_tables(pubtabnet_examples / "annotations.jsonl"))
    out = tmp_path / "copy.jsonl"
    assert write_jsonl(tables, out) == 20
    assert [t.to_record() for t in read_tables(out)] == [t.to_record() for t in tables]


def test_real_examples_are_valid(pubtabnet_examples):
    from PIL import Image

    for table in read_tables(pubtabnet_examples / "annotations.jsonl"):
        size = Image.open(pubtabnet_examples / "images" / table.filename).size
        errors, _ = validate_table(table, size)
        assert errors == [], (table.filename, errors)


def test_validation_finds_each_kind_of_problem():
    assert validate_table(_table(["<tbody>"] + ROW2))[0][0].endswith("missing")
    assert "closes nothing" in validate_table(_table(ROW2 + ["</tr>"]))[0][0]
    overlapping = ["<tr>", "<td", ' rowspan="2"', ">", "</td>", "</tr>", "<tr>", "<td>", "</td>", "</tr>"]
    assert validate_table(_table(overlapping))[0] == []  # the second row's cell moves right of the span
    too_long = ["<tr>", "<td", ' rowspan="3"', ">", "</td>", "</tr>"]
    assert "rowspan reaches row 3" in validate_table(_table(too_long))[0][0]
    ragged = ROW2 + ["<tr>", "<td>", "</td>", "</tr>"]
    assert validate_table(_table(ragged)) == ([], ["ragged rows: widths [1, 2]"])
    flipped = validate_table(_table(ROW2, bboxes=[[5, 0, 1, 4], [0, 0, 50, 4]]), image_size=(20, 20))[0]
    assert "x0 < x1" in flipped[0] and "outside the 20x20 image" in flipped[1]


def test_load_html_map_reads_every_exchange_form(tmp_path, pubtabnet_examples):
    annotations = pubtabnet_examples / "annotations.jsonl"
    from_pubtabnet = load_html_map(annotations)
    assert len(from_pubtabnet) == 20
    name, entry = next(iter(from_pubtabnet.items()))
    (tmp_path / "a.json").write_text(json.dumps({name: entry["html"]}))
    (tmp_path / "b.json").write_text(json.dumps({name: {"html": entry["html"], "type": "simple"}}))
    (tmp_path / "c.jsonl").write_text(json.dumps({"filename": name, "html": entry["html"]}) + "\n")
    for form in ("a.json", "b.json", "c.jsonl"):
        assert load_html_map(tmp_path / form)[name]["html"] == entry["html"]


def test_validate_cli_reports_bad_lines_and_exit_status(tmp_path, pubtabnet_examples, capsys):
    annotations = pubtabnet_examples / "annotations.jsonl"
    assert main(["validate", str(annotations), "--images", str(pubtabnet_examples / "images")]) == 0
    assert "20 tables: 20 valid" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    record = json.loads(annotations.read_text().splitlines()[0])
    record["html"]["cells"][0]["bbox"] = [10, 10, 5, 20]
    bad.write_text(annotations.read_text().splitlines()[1] + "\nnot json\n" + json.dumps(record) + "\n")
    assert main(["validate", str(bad), "--images", str(pubtabnet_examples / "images")]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2: error: invalid JSON" in out and f"{bad}:3 (PMC4840965_004_00.png): error: cell 0" in out
    assert "3 tables: 1 valid (0 with warnings), 2 invalid" in out
    assert main(["validate", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_show_writes_a_page_with_images_boxes_and_tables(tmp_path, pubtabnet_examples):
    out = tmp_path / "page" / "show.html"
    assert main(["show", str(pubtabnet_examples / "annotations.jsonl"), "-o", str(out), "--limit", "3"]) == 0
    page = out.read_text()
    assert page.count("<section>") == 3 and page.count("<img ") == 3 and "<rect " in page
    assert (out.parent / page.split('<img src="')[1].split('"')[0]).resolve().is_file()


def test_prediction_lines_read_as_tables_with_boxes(tmp_path):
    # `tablerec predict -o` writes {filename, html, cells: [{bbox}]}; show and read_tables take it as is.
    lines = [
        {"filename": "a.png", "html": "<html><body><table><tr><td>x &lt;b&gt;</td><td></td></tr></table></body></html>",
         "cells": [{"bbox": [1, 2, 10, 12]}, {"bbox": None}], "seconds": 0.1},
        {"filename": "b.png", "html": "no table here", "cells": []},
    ]
    path = tmp_path / "pred.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    errors: list[str] = []
    tables = list(read_tables(path, errors))
    assert [t.filename for t in tables] == ["a.png"]
    assert tables[0].cells[0].text == "x <b>" and tables[0].cells[0].bbox == (1, 2, 10, 12)
    assert tables[0].cells[1].bbox is None
    assert len(errors) == 1 and ":2:" in errors[0]
