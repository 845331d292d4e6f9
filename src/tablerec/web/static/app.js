// tablerec serve: the page. Vanilla JS, no dependencies.
//
// Safety: text predicted by the model never reaches innerHTML. Cell content
// (already escaped by Table.to_html on the server) is parsed with DOMParser
// into an inert document, and only text and a few inline tags (b, i, sup, sub,
// u, strike, overline, underline) are copied into freshly created elements.
// The table itself is built from the structure tokens with createElement.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const INLINE = { b: "b", i: "i", sup: "sup", sub: "sub", u: "u", strike: "s", s: "s", overline: "span.overline", underline: "span.underline" };
  const SKIP = new Set(["script", "style", "template", "noscript", "iframe", "object"]);

  const state = {
    info: { max_bytes: 20 * 1024 * 1024 },
    seq: 0,            // only the newest request may draw
    blob: null,        // the current image
    name: "",
    example: null,     // bundled example name, if that is what is shown
    objectUrl: null,
    result: null,
    pretty: "",
    downloads: [],
    timer: null,
  };

  // ---- small helpers ---------------------------------------------------------
  function make(spec, text) {
    const [tag, cls] = spec.split(".");
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function seconds(s) {
    return (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
  }
  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }
  function escapeText(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = !message;
  }

  // ---- safe cell content --------------------------------------------------------
  function copySafe(src, dst) {
    for (const node of src.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        dst.appendChild(document.createTextNode(node.data));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        const tag = node.tagName.toLowerCase();
        if (SKIP.has(tag)) continue;
        let target = dst;
        if (INLINE[tag]) {
          target = make(INLINE[tag]);
          dst.appendChild(target);
        }
        copySafe(node, target); // unknown tags: keep their text, drop the markup
      }
    }
  }
  function appendCellHtml(td, html) {
    const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
    copySafe(doc.body, td);
  }

  // ---- table from structure tokens ----------------------------------------------
  const SPAN = /^ (rowspan|colspan)="(\d+)"$/;

  function buildTable(structure, cells) {
    const table = make("table");
    const stack = [table];
    const top = () => stack[stack.length - 1];
    const popWhile = (tags) => { while (stack.length > 1 && tags.includes(top().tagName)) stack.pop(); };
    const closeTo = (tag) => {
      const at = stack.map((e) => e.tagName).lastIndexOf(tag);
      if (at > 0) stack.length = at;
    };
    let index = 0;
    let pending = null;
    const openCell = (spans) => {
      popWhile(["TD"]);
      if (!["TR"].includes(top().tagName)) { // a cell outside a row: give it one
        const tr = make("tr");
        top().appendChild(tr);
        stack.push(tr);
      }
      const td = make("td");
      if (spans.rowspan > 1) td.rowSpan = spans.rowspan;
      if (spans.colspan > 1) td.colSpan = spans.colspan;
      const cell = cells[index];
      if (cell) {
        appendCellHtml(td, cell.html);
        td.dataset.index = String(index);
      }
      index += 1;
      top().appendChild(td);
      stack.push(td);
    };
    for (const token of structure) {
      let m;
      if (token === "<thead>" || token === "<tbody>") {
        popWhile(["TD", "TR", "THEAD", "TBODY"]);
        const section = make(token.slice(1, -1));
        top().appendChild(section);
        stack.push(section);
      } else if (token === "<tr>") {
        popWhile(["TD", "TR"]);
        const tr = make("tr");
        top().appendChild(tr);
        stack.push(tr);
      } else if (token === "<td>") {
        openCell({});
      } else if (token === "<td") {
        pending = {};
      } else if (pending && (m = SPAN.exec(token))) {
        pending[m[1]] = parseInt(m[2], 10);
      } else if (token === ">" && pending) {
        openCell(pending);
        pending = null;
      } else if (/^<\/(thead|tbody|tr|td)>$/.test(token)) {
        closeTo(token.slice(2, -1).toUpperCase());
      }
    }
    return table;
  }

  // The same table as readable HTML source (a string, shown with textContent).
  function prettyHtml(structure, cells) {
    const lines = ["<table>"];
    let depth = 1;
    let row = null;
    let index = 0;
    const pad = () => "  ".repeat(depth);
    structure.forEach((token, i) => {
      if (token === "<thead>" || token === "<tbody>") {
        lines.push(pad() + token);
        depth += 1;
      } else if (token === "</thead>" || token === "</tbody>") {
        depth = Math.max(1, depth - 1);
        lines.push(pad() + token);
      } else if (token === "<tr>") {
        row = pad() + "<tr>";
      } else if (token === "</tr>") {
        lines.push((row ?? pad()) + "</tr>");
        row = null;
      } else {
        row = (row ?? pad()) + token;
        const opensContent = token === "<td>" || (token === ">" && isTdOpening(structure, i));
        if (opensContent) {
          row += cells[index] ? cells[index].html : "";
          index += 1;
        }
      }
    });
    if (row) lines.push(row);
    lines.push("</table>");
    return lines.join("\n");
  }
  function isTdOpening(structure, i) {
    let j = i - 1;
    while (j >= 0 && SPAN.test(structure[j])) j -= 1;
    return j >= 0 && structure[j] === "<td";
  }

  // ---- linking boxes and cells ---------------------------------------------------
  let active = -1;
  function setActive(i) {
    if (i === active) return;
    for (const el of document.querySelectorAll(".on")) el.classList.remove("on");
    $("overlay").classList.toggle("dim", i >= 0);
    active = i;
    const info = $("cell-info");
    if (i < 0 || !state.result) {
      info.textContent = state.result && state.result.cells.length ? "Hover a box or a table cell to see how they match." : "";
      return;
    }
    const rect = $("overlay").querySelector(`rect[data-index="${i}"]`);
    const td = $("panel-table").querySelector(`td[data-index="${i}"]`);
    if (rect) rect.classList.add("on");
    if (td) td.classList.add("on");
    const cell = state.result.cells[i];
    const spans = [cell.rowspan > 1 ? `rowspan ${cell.rowspan}` : "", cell.colspan > 1 ? `colspan ${cell.colspan}` : ""].filter(Boolean).join(", ");
    info.replaceChildren(
      make("b", `Cell ${i + 1}`),
      document.createTextNode(` · row ${cell.row + 1}, column ${cell.col + 1}${spans ? ` (${spans})` : ""}${cell.bbox ? "" : " · no box"} · `),
      document.createTextNode(cell.text ? `“${cell.text.length > 90 ? cell.text.slice(0, 90) + "…" : cell.text}”` : "(empty)"),
    );
  }
  function indexOf(target) {
    const el = target.closest && target.closest("[data-index]");
    return el ? parseInt(el.dataset.index, 10) : -1;
  }

  function drawBoxes(result) {
    const svg = $("overlay");
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${result.width} ${result.height}`);
    result.cells.forEach((cell, i) => {
      if (!cell.bbox) return;
      const [x0, y0, x1, y1] = cell.bbox;
      const rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("x", x0);
      rect.setAttribute("y", y0);
      rect.setAttribute("width", Math.max(0, x1 - x0));
      rect.setAttribute("height", Math.max(0, y1 - y0));
      rect.dataset.index = String(i);
      svg.appendChild(rect);
    });
  }

  // ---- showing a result ----------------------------------------------------------
  function clearDownloads() {
    for (const url of state.downloads) URL.revokeObjectURL(url);
    state.downloads = [];
    for (const id of ["download-html", "download-json"]) {
      $(id).removeAttribute("href");
      $(id).setAttribute("aria-disabled", "true");
    }
    $("copy").disabled = true;
  }
  function setDownload(id, text, type, filename) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    state.downloads.push(url);
    const a = $(id);
    a.href = url;
    a.download = filename;
    a.setAttribute("aria-disabled", "false");
  }

  function showPending() {
    state.result = null;
    clearDownloads();
    $("result").hidden = false;
    document.body.classList.add("has-result");
    $("stage").classList.add("loading");
    $("overlay").replaceChildren();
    $("busy").hidden = false;
    $("timing").textContent = "…";
    $("summary").textContent = "reading the table";
    const sk = make("div.skeleton");
    for (let k = 0; k < 7; k += 1) sk.appendChild(make("i"));
    $("panel-table").replaceChildren(sk);
    $("html-source").textContent = "";
    $("json-source").textContent = "";
    $("cell-info").textContent = "";
    const start = performance.now();
    clearInterval(state.timer);
    const tick = () => {
      const s = (performance.now() - start) / 1000;
      $("busy-text").textContent = s < 1 ? "Reading the table…" : `Reading the table… ${s.toFixed(0)} s`;
    };
    tick();
    state.timer = setInterval(tick, 250);
  }
  function stopPending() {
    clearInterval(state.timer);
    $("busy").hidden = true;
    $("stage").classList.remove("loading");
  }

  function showResult(result, roundTrip) {
    state.result = result;
    $("timing").textContent = seconds(result.seconds);
    $("timing").title = `model time; ${seconds(roundTrip)} including upload`;
    const boxed = result.cells.filter((c) => c.bbox).length;
    $("summary").textContent = result.cells.length
      ? `${plural(result.cells.length, "cell")} · ${plural(result.n_rows, "row")} × ${plural(result.n_cols, "column")}` +
        `${boxed < result.cells.length ? ` · ${boxed} with boxes` : ""} · beam ${result.beam} · cell beam ${result.cell_beam}`
      : `no cells found · beam ${result.beam} · cell beam ${result.cell_beam}`;
    drawBoxes(result);

    const panel = $("panel-table");
    if (result.cells.length) {
      panel.replaceChildren(buildTable(result.structure, result.cells));
    } else {
      panel.replaceChildren(make("p.empty", "The model found no table cells in this image."));
    }
    state.pretty = prettyHtml(result.structure, result.cells);
    $("html-source").textContent = state.pretty;
    const record = { filename: state.name, ...result };
    const json = JSON.stringify(record, null, 2);
    $("json-source").textContent = json;

    const stem = (state.name || "table").replace(/\.[^.]+$/, "") || "table";
    const doc = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeText(stem)}</title>\n` +
      "<style>table{border-collapse:collapse;font:14px system-ui,sans-serif}td{border:1px solid #ccc;padding:3px 8px;vertical-align:top}" +
      "thead td{font-weight:600;background:#f6f8fa}</style>\n</head><body>\n" + state.pretty + "\n</body></html>\n";
    setDownload("download-html", doc, "text/html", `${stem}.html`);
    setDownload("download-json", json + "\n", "application/json", `${stem}.json`);
    $("copy").disabled = false;
    active = -2; // force the hint line to refresh
    setActive(-1);
  }

  // ---- running a recognition ------------------------------------------------------
  async function recognize(blob, name, example) {
    const seq = ++state.seq;
    showError("");
    if (blob.size > state.info.max_bytes) {
      showError(`That file is ${(blob.size / 2 ** 20).toFixed(1)} MB; the limit is ${Math.round(state.info.max_bytes / 2 ** 20)} MB.`);
      return;
    }
    state.blob = blob;
    state.name = name;
    state.example = example;
    for (const t of document.querySelectorAll(".thumb")) t.classList.toggle("current", t.dataset.name === example);
    const url = new URL(location.href);
    if (example) url.searchParams.set("example", example); else url.searchParams.delete("example");
    history.replaceState(null, "", url);

    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = URL.createObjectURL(blob);
    $("image").src = state.objectUrl;
    $("filename").textContent = name;
    showPending();

    const beam = $("beam").value;
    const start = performance.now();
    let response, body;
    try {
      response = await fetch(`/api/recognize?beam=${encodeURIComponent(beam)}`, {
        method: "POST",
        headers: { "Content-Type": blob.type || "application/octet-stream" },
        body: blob,
      });
      body = await response.json().catch(() => null);
    } catch (err) {
      if (seq !== state.seq) return;
      stopPending();
      fail("Could not reach the server. Is tablerec serve still running?");
      return;
    }
    if (seq !== state.seq) return;
    stopPending();
    if (!response.ok || !body || body.error) {
      fail((body && body.error) ? `Could not read this image: ${body.error}` : `The server answered ${response.status} ${response.statusText}.`);
      return;
    }
    showResult(body, (performance.now() - start) / 1000);
  }
  function fail(message) {
    showError(message);
    $("result").hidden = true;
    document.body.classList.remove("has-result");
  }

  async function runExample(name) {
    try {
      const response = await fetch(`/examples/${encodeURIComponent(name)}`);
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        showError(body && body.error ? body.error : `No example named ${name}.`);
        return;
      }
      await recognize(await response.blob(), name, name);
    } catch (err) {
      showError("Could not reach the server. Is tablerec serve still running?");
    }
  }

  function pickFile(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      showError(`${file.name} does not look like an image (${file.type}).`);
      return;
    }
    recognize(file, file.name || "pasted image", null);
  }

  // ---- start-up ---------------------------------------------------------------------
  async function loadExamples() {
    let list = [];
    try {
      const response = await fetch("/api/examples");
      if (response.ok) list = await response.json();
    } catch (err) { /* no examples then */ }
    const box = $("example-list");
    box.replaceChildren();
    for (const ex of list) {
      const button = make("button.thumb");
      button.type = "button";
      button.dataset.name = ex.name;
      button.title = `Recognise ${ex.name} (${ex.width} × ${ex.height})`;
      const img = make("img");
      img.src = ex.url;
      img.alt = "";
      img.loading = "lazy";
      button.append(img, make("span", ex.name));
      button.addEventListener("click", () => runExample(ex.name));
      box.appendChild(button);
    }
    $("examples").hidden = list.length === 0;
    if (state.example) {
      for (const t of box.querySelectorAll(".thumb")) t.classList.toggle("current", t.dataset.name === state.example);
    }
  }

  async function loadInfo() {
    try {
      const response = await fetch("/api/info");
      if (!response.ok) return;
      state.info = await response.json();
      $("model-info").textContent = `model ${state.info.model} · ${state.info.device}`;
      const select = $("beam");
      const want = String(state.info.beam);
      if (![...select.options].some((o) => o.value === want)) select.add(new Option(want, want));
      select.value = want;
    } catch (err) { /* keep defaults */ }
  }

  function wire() {
    const drop = $("drop");
    const input = $("file");
    $("choose").addEventListener("click", (e) => { e.stopPropagation(); input.click(); });
    drop.addEventListener("click", () => input.click());
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    input.addEventListener("change", () => { pickFile(input.files[0]); input.value = ""; });

    let depth = 0;
    const veil = $("dropveil");
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
    document.addEventListener("dragenter", (e) => { if (!hasFiles(e)) return; depth += 1; veil.hidden = false; drop.classList.add("over"); });
    document.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) { veil.hidden = true; drop.classList.remove("over"); } });
    document.addEventListener("dragover", (e) => { if (hasFiles(e)) e.preventDefault(); });
    document.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      veil.hidden = true;
      drop.classList.remove("over");
      pickFile(e.dataTransfer.files[0]);
    });
    document.addEventListener("paste", (e) => {
      const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((it) => it.kind === "file" && it.type.startsWith("image/"));
      if (item) pickFile(item.getAsFile());
    });

    // hover linking, both ways (and tap on touch screens)
    const over = (e) => { const i = indexOf(e.target); if (i >= 0) setActive(i); };
    for (const el of [$("overlay"), $("panel-table")]) {
      el.addEventListener("mouseover", over);
      el.addEventListener("mouseleave", () => setActive(-1));
      el.addEventListener("click", over);
    }

    // tabs
    const tabs = ["table", "html", "json"];
    for (const name of tabs) {
      $(`tab-${name}`).addEventListener("click", () => {
        for (const other of tabs) {
          $(`tab-${other}`).setAttribute("aria-selected", String(other === name));
          $(`panel-${other}`).hidden = other !== name;
        }
      });
    }

    $("copy").addEventListener("click", async () => {
      const button = $("copy");
      let ok = false;
      try {
        await navigator.clipboard.writeText(state.pretty);
        ok = true;
      } catch (err) { // no clipboard API (plain http on another host): select-and-copy
        const area = make("textarea");
        area.value = state.pretty;
        document.body.appendChild(area);
        area.select();
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        area.remove();
      }
      button.textContent = ok ? "Copied" : "Copy failed";
      button.classList.toggle("done", ok);
      setTimeout(() => { button.textContent = "Copy HTML"; button.classList.remove("done"); }, 1600);
    });

    $("beam").addEventListener("change", () => {
      if (state.blob) recognize(state.blob, state.name, state.example);
    });
  }

  async function start() {
    wire();
    const example = new URLSearchParams(location.search).get("example");
    state.example = example;
    await Promise.all([loadInfo(), loadExamples()]);
    if (example) runExample(example);
  }

  start();
})();
