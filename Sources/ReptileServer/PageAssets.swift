// The demo page served by `DemoServer`: one HTML document, its style sheet and its script, as Swift
// string literals so that the page ships inside the binary (no resource bundle, no external assets,
// no CDN, no web fonts). The script draws on canvases with Pointer Events, reduces each drawing to
// 28×28 by area-averaging the ink coverage, and posts the drawings to /api/classify.

enum PageAssets {
    /// Everything the page loads comes from this server; nothing inline, nothing external.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The page (`GET /`).
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Reptile · one-shot drawing demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>Reptile one-shot drawing demo</h1>
  <p class="lede">Draw one example of each of three characters, then a test character. A network meta-trained
    with Reptile on Omniglot adapts to your three examples in a few gradient steps and tells which class the
    test drawing belongs to. The bars follow your pen as you draw.</p>
</header>
<main>
  <section class="panel" aria-labelledby="classes-title">
    <div class="panel-head">
      <h2 id="classes-title">Training examples <span class="hint">one drawing per class</span></h2>
      <button id="edit-all" type="button" aria-label="Edit All: clear the three class drawings">Edit All</button>
    </div>
    <div class="cells">
      <figure class="cell" data-class="0">
        <div class="pad">
          <canvas id="cell-0" class="draw" role="img" aria-label="Class 1 drawing area: draw with a mouse, pen or finger"></canvas>
          <span class="placeholder" aria-hidden="true">Draw class 1</span>
          <canvas class="preview" width="28" height="28" aria-hidden="true" title="What the model sees (28×28)"></canvas>
        </div>
        <figcaption><span class="swatch" aria-hidden="true"></span>Class 1</figcaption>
      </figure>
      <figure class="cell" data-class="1">
        <div class="pad">
          <canvas id="cell-1" class="draw" role="img" aria-label="Class 2 drawing area: draw with a mouse, pen or finger"></canvas>
          <span class="placeholder" aria-hidden="true">Draw class 2</span>
          <canvas class="preview" width="28" height="28" aria-hidden="true" title="What the model sees (28×28)"></canvas>
        </div>
        <figcaption><span class="swatch" aria-hidden="true"></span>Class 2</figcaption>
      </figure>
      <figure class="cell" data-class="2">
        <div class="pad">
          <canvas id="cell-2" class="draw" role="img" aria-label="Class 3 drawing area: draw with a mouse, pen or finger"></canvas>
          <span class="placeholder" aria-hidden="true">Draw class 3</span>
          <canvas class="preview" width="28" height="28" aria-hidden="true" title="What the model sees (28×28)"></canvas>
        </div>
        <figcaption><span class="swatch" aria-hidden="true"></span>Class 3</figcaption>
      </figure>
    </div>
  </section>

  <section class="panel" aria-labelledby="input-title">
    <div class="panel-head">
      <h2 id="input-title">Test drawing <span class="hint">which class is it?</span></h2>
      <button id="edit-input" type="button" aria-label="Edit: clear the test drawing">Edit</button>
    </div>
    <div class="input-row">
      <figure class="cell input-cell">
        <div class="pad">
          <canvas id="cell-input" class="draw" role="img" aria-label="Test drawing area: draw with a mouse, pen or finger"></canvas>
          <span class="placeholder" aria-hidden="true">Draw a test character</span>
          <canvas class="preview" width="28" height="28" aria-hidden="true" title="What the model sees (28×28)"></canvas>
        </div>
      </figure>
      <div class="results" id="results" data-state="idle" data-seq="0" aria-labelledby="results-title">
        <h3 id="results-title">Class probabilities</h3>
        <ol class="bars">
          <li class="bar-row" data-class="0">
            <span class="bar-label" id="label-0">Class 1</span>
            <div class="bar-track" id="bar-0" role="meter" aria-labelledby="label-0" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" aria-valuetext="no prediction yet"><div class="bar-fill"></div></div>
            <span class="bar-value" aria-hidden="true">–</span>
          </li>
          <li class="bar-row" data-class="1">
            <span class="bar-label" id="label-1">Class 2</span>
            <div class="bar-track" id="bar-1" role="meter" aria-labelledby="label-1" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" aria-valuetext="no prediction yet"><div class="bar-fill"></div></div>
            <span class="bar-value" aria-hidden="true">–</span>
          </li>
          <li class="bar-row" data-class="2">
            <span class="bar-label" id="label-2">Class 3</span>
            <div class="bar-track" id="bar-2" role="meter" aria-labelledby="label-2" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0" aria-valuetext="no prediction yet"><div class="bar-fill"></div></div>
            <span class="bar-value" aria-hidden="true">–</span>
          </li>
        </ol>
        <p class="prediction" id="prediction" aria-live="polite">&nbsp;</p>
        <p class="status" id="status" role="status">Loading…</p>
      </div>
    </div>
  </section>
</main>
<footer class="foot">
  <button id="load-examples" type="button">Load example drawings</button>
  <details id="about">
    <summary>About the model</summary>
    <dl id="info"><dt>Model</dt><dd>loading…</dd></dl>
    <p class="small">Each drawing is reduced to 28×28 pixels (ink 1, background 0) by averaging the ink coverage
      of each pixel's area, like the Omniglot images the network was meta-trained on. The small squares in the
      corners show what the network sees.</p>
    <p class="small">The bars are the softmax of the adapted network's outputs, shown as they are, not
      calibrated. After a few steps of adaptation to one drawing per class the network is almost always
      sure of its pick (100 % / 0 %), whether it is right or not: the bars say which class it picks, not
      how likely that pick is to be right. That is better told by the model's accuracy on characters it
      never saw in meta-training: about 95 % of 5-way one-shot tasks (the project's docs/RESULTS.md).</p>
  </details>
</footer>
</body>
</html>
"""#

    /// The style sheet (`GET /style.css`).
    static let style = #"""
:root {
  --bg: #f4f5f8;
  --panel: #ffffff;
  --text: #1b2130;
  --muted: #5b6475;
  --border: #dce0e7;
  --track: #eceff4;
  --ink: #151a24;
  --error: #c0262d;
  --focus: rgba(59, 91, 219, 0.45);
  --c0: #3b5bdb; --c0-soft: rgba(59, 91, 219, 0.28);
  --c1: #e8590c; --c1-soft: rgba(232, 89, 12, 0.28);
  --c2: #2b8a3e; --c2-soft: rgba(43, 138, 62, 0.28);
  --radius: 14px;
  color-scheme: light;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  -webkit-text-size-adjust: 100%;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); line-height: 1.45; }
.top, main, .foot { max-width: 940px; margin: 0 auto; padding-left: 20px; padding-right: 20px; }
.top { padding-top: 26px; }
h1 { font-size: clamp(1.3rem, 1rem + 1.5vw, 1.85rem); line-height: 1.2; margin: 0 0 8px; letter-spacing: -0.01em; }
.lede { margin: 0 0 18px; color: var(--muted); max-width: 68ch; font-size: 0.95rem; }
.panel {
  background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 16px 18px 18px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.05);
}
.panel-head { display: flex; align-items: center; justify-content: space-between; gap: 12px; margin-bottom: 12px; }
h2 { font-size: 1.02rem; margin: 0; font-weight: 650; }
.hint { color: var(--muted); font-weight: 400; font-size: 0.85rem; margin-left: 0.35em; }
button {
  font: inherit; font-size: 0.9rem; font-weight: 550; padding: 6px 14px; min-height: 36px; border-radius: 9px;
  border: 1px solid var(--border); background: #fff; color: var(--text); cursor: pointer; white-space: nowrap;
}
button:hover { background: #f0f2f6; }
button:active { background: #e6e9ef; }
button:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }

.cells { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 14px; }
.cell { margin: 0; min-width: 0; }
.cell[data-class="0"], .bar-row[data-class="0"] { --class-color: var(--c0); --class-soft: var(--c0-soft); }
.cell[data-class="1"], .bar-row[data-class="1"] { --class-color: var(--c1); --class-soft: var(--c1-soft); }
.cell[data-class="2"], .bar-row[data-class="2"] { --class-color: var(--c2); --class-soft: var(--c2-soft); }
.pad {
  position: relative; aspect-ratio: 1 / 1; background: #fff; border: 1px solid var(--border); border-radius: 12px;
  overflow: hidden; transition: border-color 0.15s, box-shadow 0.15s;
}
.pad:focus-within { border-color: #b8bfcc; }
canvas.draw {
  display: block; width: 100%; height: 100%; touch-action: none; cursor: crosshair;
  user-select: none; -webkit-user-select: none; -webkit-touch-callout: none;
}
.placeholder {
  position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; text-align: center;
  padding: 8px; color: #a0a8b6; font-size: 0.88rem; pointer-events: none;
}
.cell.has-ink .placeholder { display: none; }
.preview {
  position: absolute; right: 6px; bottom: 6px; width: 42px; height: 42px; image-rendering: pixelated;
  border: 1px solid var(--border); border-radius: 4px; background: #fff; pointer-events: none; opacity: 0.9;
}
.cell:not(.has-ink) .preview { display: none; }
figcaption { display: flex; align-items: center; gap: 8px; margin-top: 8px; font-size: 0.9rem; font-weight: 600; }
.swatch { width: 10px; height: 10px; border-radius: 50%; background: var(--class-color); flex: none; }
.cell.predicted .pad { border-color: var(--class-color); box-shadow: 0 0 0 3px var(--class-soft); }

.input-row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.3fr); gap: 22px; align-items: start; }
.input-cell { max-width: 300px; width: 100%; }
.results { min-width: 0; }
.results h3 {
  font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); margin: 2px 0 12px; font-weight: 650;
}
.bars { list-style: none; margin: 0; padding: 0; display: grid; gap: 12px; }
.bar-row { display: grid; grid-template-columns: 5em minmax(0, 1fr) 3.8em; align-items: center; gap: 10px; font-size: 0.92rem; }
.bar-label { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.bar-label::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--class-color); flex: none; }
.bar-track { height: 16px; background: var(--track); border-radius: 8px; overflow: hidden; }
.bar-fill { height: 100%; width: 0; background: var(--class-color); opacity: 0.4; border-radius: 8px; transition: width 0.18s ease-out, opacity 0.18s; }
.bar-value { text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); }
.bar-row.predicted .bar-fill { opacity: 1; }
.bar-row.predicted .bar-label, .bar-row.predicted .bar-value { font-weight: 700; color: var(--text); }
.results[data-state="incomplete"] .bar-fill, .results[data-state="error"] .bar-fill { opacity: 0.15; }
.prediction { margin: 16px 0 4px; font-weight: 600; min-height: 1.45em; }
.status { margin: 0; font-size: 0.84rem; color: var(--muted); min-height: 1.3em; overflow-wrap: anywhere; }
.status.error { color: var(--error); font-weight: 550; }

.foot { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 12px 18px; padding-bottom: 32px; font-size: 0.9rem; }
.foot details { flex: 1 1 320px; color: var(--muted); }
.foot summary { cursor: pointer; padding: 7px 0; color: var(--text); font-weight: 550; }
.foot summary:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 4px; }
#info { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 14px; margin: 6px 0 10px; }
#info dt { font-weight: 600; color: var(--text); }
#info dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 0.82rem; }
.small { font-size: 0.84rem; margin: 0; max-width: 70ch; }

/* Wide screens: the test drawing and its bars beside the training drawings, all above the fold. */
@media (min-width: 1180px) {
  .top, main, .foot { max-width: 1320px; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; align-items: start; }
  main .input-row { grid-template-columns: minmax(0, 0.8fr) minmax(0, 1fr); gap: 14px; }
}
@media (max-width: 600px) {
  .top, main, .foot { padding-left: 12px; padding-right: 12px; }
  .top { padding-top: 16px; }
  .lede { font-size: 0.88rem; margin-bottom: 12px; }
  .panel { padding: 12px; margin-bottom: 12px; border-radius: 12px; }
  .panel-head { margin-bottom: 10px; }
  .hint { display: none; }
  .cells { gap: 8px; }
  figcaption { font-size: 0.82rem; margin-top: 5px; }
  .placeholder { font-size: 0.76rem; }
  .preview { width: 28px; height: 28px; right: 4px; bottom: 4px; }
  .input-row { grid-template-columns: minmax(0, 1fr) minmax(0, 1.2fr); gap: 12px; }
  .bar-row { grid-template-columns: minmax(0, 1fr) auto; grid-template-areas: "label value" "bar bar"; gap: 3px 6px; font-size: 0.82rem; }
  .bar-label { grid-area: label; }
  .bar-value { grid-area: value; }
  .bar-track { grid-area: bar; height: 12px; }
  .bars { gap: 9px; }
  .results h3 { margin-bottom: 8px; }
  .prediction { font-size: 0.88rem; }
}
@media (max-width: 350px) {
  .input-row { grid-template-columns: minmax(0, 1fr); }
  .input-cell { max-width: 240px; }
}
@media (prefers-reduced-motion: reduce) {
  .bar-fill, .pad { transition: none; }
}
"""#

    /// The script (`GET /app.js`).
    static let script = #"""
// Reptile one-shot drawing demo: drawing cells, reduction to 28×28 and live classification.
"use strict";

(function () {
  const SIDE = 28;                 // the model's input is SIDE × SIDE
  const SUPERSAMPLE = 10;          // reduction renders at SIDE * SUPERSAMPLE and averages SUPERSAMPLE² blocks
  const STROKE_WIDTH = 0.09;       // pen width as a fraction of the cell (≈ 2.5 px at 28×28, like Omniglot)
  const INK = "#151a24";
  const REQUEST_TIMEOUT_MS = 15000;
  const BLANK_THRESHOLD = 0.5;     // total ink (in pixels) below which a cell counts as empty

  // ---- Cells -----------------------------------------------------------------------------------

  /** A drawing surface; strokes are kept as points in [0, 1]² so they survive resizes. */
  class Cell {
    constructor(canvas, name, onChange) {
      this.canvas = canvas;
      this.name = name;
      this.figure = canvas.closest(".cell");
      this.preview = this.figure.querySelector("canvas.preview");
      this.ctx = canvas.getContext("2d");
      this.strokes = [];
      this.version = 0;             // bumped on every change; the 28×28 reduction is cached per version
      this.cached = null;
      this.activePointer = null;
      this.onChange = onChange;
      this.attach();
      new ResizeObserver(() => this.resize()).observe(canvas);
      this.resize();
    }

    attach() {
      const c = this.canvas;
      c.addEventListener("pointerdown", (e) => {
        if (e.pointerType === "mouse" && e.button !== 0) return;
        if (this.activePointer !== null) return;  // one pointer per cell at a time
        e.preventDefault();
        try { c.setPointerCapture(e.pointerId); } catch (_) { /* pointer already gone */ }
        this.activePointer = e.pointerId;
        c.dataset.pointerType = e.pointerType || "unknown";
        this.strokes.push([this.point(e)]);
        this.changed();
      });
      c.addEventListener("pointermove", (e) => {
        if (e.pointerId !== this.activePointer) return;
        e.preventDefault();
        const stroke = this.strokes[this.strokes.length - 1];
        const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
        for (const ev of events.length ? events : [e]) {
          const p = this.point(ev);
          const last = stroke[stroke.length - 1];
          if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 0.004) stroke.push(p);
        }
        this.changed();
      });
      const end = (e) => {
        if (e.pointerId !== this.activePointer) return;
        this.activePointer = null;
        if (c.hasPointerCapture && c.hasPointerCapture(e.pointerId)) c.releasePointerCapture(e.pointerId);
        this.changed();
      };
      c.addEventListener("pointerup", end);
      c.addEventListener("pointercancel", end);
      c.addEventListener("lostpointercapture", end);
      c.addEventListener("contextmenu", (e) => e.preventDefault());
    }

    point(e) {
      const r = this.canvas.getBoundingClientRect();
      const x = (e.clientX - r.left) / Math.max(1, r.width);
      const y = (e.clientY - r.top) / Math.max(1, r.height);
      return [Math.min(1, Math.max(0, x)), Math.min(1, Math.max(0, y))];
    }

    resize() {
      const dpr = window.devicePixelRatio || 1;
      const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
      const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
      if (this.canvas.width !== w || this.canvas.height !== h) {
        this.canvas.width = w;
        this.canvas.height = h;
      }
      this.render();
    }

    setStrokes(strokes) {
      this.activePointer = null;
      this.strokes = strokes.map((s) => s.map((p) => [p[0], p[1]]));
      this.changed();
    }

    clear() { this.setStrokes([]); }

    changed() {
      this.version += 1;
      this.render();
      this.canvas.dataset.strokes = String(this.strokes.length);
      this.figure.classList.toggle("has-ink", this.strokes.length > 0);
      this.onChange(this);
    }

    render() {
      const { width, height } = this.canvas;
      this.ctx.clearRect(0, 0, width, height);
      drawStrokes(this.ctx, this.strokes, width, height, INK);
    }

    /** The 28×28 reduction (row-major, ink 1, background 0); also shown in the corner preview. */
    pixels() {
      if (!this.cached || this.cached.version !== this.version) {
        const pixels = reduce(this.strokes);
        paintPreview(this.preview, pixels);
        this.cached = { version: this.version, pixels };
      }
      return this.cached.pixels;
    }
  }

  /** Smooth strokes: quadratic curves through the midpoints of successive points, round caps and joins. */
  function drawStrokes(ctx, strokes, width, height, color) {
    const lineWidth = STROKE_WIDTH * Math.min(width, height);
    ctx.save();
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const stroke of strokes) {
      if (stroke.length === 0) continue;
      const pts = stroke.map((p) => [p[0] * width, p[1] * height]);
      if (pts.length === 1) {
        ctx.beginPath();
        ctx.arc(pts[0][0], pts[0][1], lineWidth / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (let i = 1; i < pts.length - 1; i++) {
        const mx = (pts[i][0] + pts[i + 1][0]) / 2;
        const my = (pts[i][1] + pts[i + 1][1]) / 2;
        ctx.quadraticCurveTo(pts[i][0], pts[i][1], mx, my);
      }
      const last = pts[pts.length - 1];
      ctx.lineTo(last[0], last[1]);
      ctx.stroke();
    }
    ctx.restore();
  }

  const big = document.createElement("canvas");
  big.width = big.height = SIDE * SUPERSAMPLE;
  const bigCtx = big.getContext("2d", { willReadFrequently: true });

  /** Renders the strokes at 280×280 and averages the ink coverage (alpha) of each 10×10 block. */
  function reduce(strokes) {
    const n = SIDE * SUPERSAMPLE;
    bigCtx.clearRect(0, 0, n, n);
    drawStrokes(bigCtx, strokes, n, n, "#000");
    const alpha = bigCtx.getImageData(0, 0, n, n).data;
    const sums = new Float64Array(SIDE * SIDE);
    for (let y = 0; y < n; y++) {
      const row = Math.floor(y / SUPERSAMPLE) * SIDE;
      for (let x = 0; x < n; x++) sums[row + Math.floor(x / SUPERSAMPLE)] += alpha[(y * n + x) * 4 + 3];
    }
    const scale = 1 / (255 * SUPERSAMPLE * SUPERSAMPLE);
    const out = new Array(SIDE * SIDE);
    for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, sums[i] * scale) * 1000) / 1000;
    return out;
  }

  function paintPreview(canvas, pixels) {
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(SIDE, SIDE);
    for (let i = 0; i < pixels.length; i++) {
      const v = Math.round(255 * (1 - pixels[i]));
      image.data[4 * i] = v; image.data[4 * i + 1] = v; image.data[4 * i + 2] = v; image.data[4 * i + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }

  const inkOf = (pixels) => pixels.reduce((a, b) => a + b, 0);

  // ---- Example drawings ------------------------------------------------------------------------

  /** Deterministic pseudo-random numbers (mulberry32) for a hand-drawn wobble. */
  function random(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6D2B79F5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** Points along a polyline, `perSegment` per segment, with a small smooth wobble. */
  function polyline(corners, perSegment, rnd, wobble) {
    const pts = [];
    let dx = 0, dy = 0;
    for (let s = 0; s < corners.length - 1; s++) {
      const [x0, y0] = corners[s], [x1, y1] = corners[s + 1];
      for (let i = s === 0 ? 0 : 1; i <= perSegment; i++) {
        const t = i / perSegment;
        dx = 0.7 * dx + (rnd() - 0.5) * wobble;
        dy = 0.7 * dy + (rnd() - 0.5) * wobble;
        pts.push([x0 + (x1 - x0) * t + dx, y0 + (y1 - y0) * t + dy]);
      }
    }
    return pts;
  }

  function circle(cx, cy, r, rnd) {
    const pts = [];
    const start = -Math.PI / 2 - 0.3;
    for (let i = 0; i <= 44; i++) {
      const a = start + (i / 40) * 2 * Math.PI;  // a little past a full turn, as people draw circles
      const rr = r * (1 + (rnd() - 0.5) * 0.03);
      pts.push([cx + rr * Math.cos(a), cy + rr * Math.sin(a)]);
    }
    return [pts];
  }

  function cross(cx, cy, h, rnd) {
    return [
      polyline([[cx - h, cy - h], [cx + h, cy + h]], 14, rnd, 0.008),
      polyline([[cx + h, cy - h], [cx - h, cy + h]], 14, rnd, 0.008),
    ];
  }

  function triangle(cx, cy, h, rnd, rotation = 0) {
    const corner = (a) => [cx + h * Math.cos(a + rotation), cy + h * Math.sin(a + rotation)];
    const top = corner(-Math.PI / 2), right = corner(Math.PI / 6), left = corner((5 * Math.PI) / 6);
    return [polyline([top, right, left, top], 12, rnd, 0.008)];
  }

  function loadExamples() {
    cells[0].setStrokes(circle(0.5, 0.5, 0.3, random(1)));
    cells[1].setStrokes(cross(0.5, 0.5, 0.26, random(2)));
    cells[2].setStrokes(triangle(0.5, 0.56, 0.34, random(3)));
    inputCell.setStrokes(triangle(0.53, 0.57, 0.3, random(4), 0.1));
  }

  // ---- Classification --------------------------------------------------------------------------

  const results = document.getElementById("results");
  const rows = Array.from(results.querySelectorAll(".bar-row"));
  const predictionLine = document.getElementById("prediction");
  const statusLine = document.getElementById("status");

  let inFlight = false;
  let dirty = false;
  let framePending = false;
  let successes = 0;

  function setStatus(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", isError);
  }

  function setState(state) { results.dataset.state = state; }

  function showProbabilities(probabilities) {
    let best = 0;
    probabilities.forEach((p, i) => { if (p > probabilities[best]) best = i; });
    rows.forEach((row, i) => {
      const p = probabilities[i];
      const percent = 100 * p;
      const shown = percent >= 99.95 ? "100%" : percent < 0.05 ? "0%" : percent.toFixed(1) + "%";
      row.querySelector(".bar-fill").style.width = percent.toFixed(2) + "%";
      row.querySelector(".bar-value").textContent = shown;
      const meter = row.querySelector(".bar-track");
      meter.setAttribute("aria-valuenow", percent.toFixed(1));
      meter.setAttribute("aria-valuetext", shown);
      meter.dataset.probability = String(p);
      row.classList.toggle("predicted", i === best);
      cells[i].figure.classList.toggle("predicted", i === best);
    });
    results.dataset.predicted = String(best);
    predictionLine.textContent = `Looks like class ${best + 1} (${(100 * probabilities[best]).toFixed(0)}%)`;
  }

  function clearProbabilities(message) {
    rows.forEach((row, i) => {
      row.querySelector(".bar-fill").style.width = "0%";
      row.querySelector(".bar-value").textContent = "–";
      const meter = row.querySelector(".bar-track");
      meter.setAttribute("aria-valuenow", "0");
      meter.setAttribute("aria-valuetext", "no prediction");
      delete meter.dataset.probability;
      row.classList.remove("predicted");
      cells[i].figure.classList.remove("predicted");
    });
    delete results.dataset.predicted;
    predictionLine.textContent = message;
  }

  /** Called on every change; at most one request is in flight, and the latest state is sent next. */
  function scheduleUpdate() {
    dirty = true;
    if (inFlight || framePending) return;
    framePending = true;
    requestAnimationFrame(() => {
      framePending = false;
      if (!inFlight && dirty) update();
    });
  }

  async function update() {
    dirty = false;
    const train = cells.map((c) => c.pixels());
    const input = inputCell.pixels();
    const empty = cells.filter((c, i) => inkOf(train[i]) < BLANK_THRESHOLD).map((c) => c.name);
    if (inkOf(input) < BLANK_THRESHOLD) empty.push("the test cell");
    if (empty.length > 0) {
      setState("incomplete");
      clearProbabilities("\u00a0");
      setStatus(`Draw in ${listOf(empty)} to see the probabilities.`);
      return;
    }

    inFlight = true;
    setState("pending");
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch("/api/classify", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ train, input }),
        cache: "no-store",
        signal: controller.signal,
      });
      const text = await response.text();
      let body = null;
      try { body = JSON.parse(text); } catch (_) { /* reported below */ }
      if (!response.ok) {
        const reason = body && typeof body.error === "string" ? body.error : response.statusText || "request failed";
        throw new Error(`server answered ${response.status}: ${reason}`);
      }
      const probabilities = body && body.probabilities;
      if (!Array.isArray(probabilities) || probabilities.length !== cells.length ||
          !probabilities.every((p) => typeof p === "number" && isFinite(p))) {
        throw new Error("the server's answer has no valid probabilities");
      }
      const elapsed = performance.now() - started;
      showProbabilities(probabilities);
      successes += 1;
      results.dataset.seq = String(successes);
      setState("ok");
      setStatus(describeTiming(elapsed, response.headers.get("Server-Timing"), body.losses));
    } catch (error) {
      setState("error");
      const reason = error && error.name === "AbortError"
        ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
        : error instanceof TypeError ? "cannot reach the server" : (error && error.message) || String(error);
      setStatus(`Classification failed: ${reason}`, true);
    } finally {
      clearTimeout(timer);
      inFlight = false;
      if (dirty) scheduleUpdate();
    }
  }

  function describeTiming(elapsed, serverTiming, losses) {
    let text = `Updated in ${Math.round(elapsed)} ms`;
    const match = serverTiming && /dur=([0-9.]+)/.exec(serverTiming);
    if (match) text += ` (model ${Math.round(parseFloat(match[1]))} ms)`;
    if (Array.isArray(losses) && losses.length > 0) {
      const last = losses[losses.length - 1];
      const steps = losses.length === 1 ? "1 adaptation step" : `${losses.length} adaptation steps`;
      text += ` · ${steps}, loss ${Number(losses[0]).toFixed(3)} → ${Number(last).toFixed(3)}`;
    }
    return text;
  }

  function listOf(names) {
    if (names.length <= 1) return names.join("");
    return names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
  }

  async function loadInfo() {
    const list = document.getElementById("info");
    try {
      const response = await fetch("/api/info", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info = await response.json();
      list.replaceChildren();
      const keys = Object.keys(info).sort();
      for (const key of keys) {
        const dt = document.createElement("dt");
        dt.textContent = key;
        const dd = document.createElement("dd");
        dd.textContent = String(info[key]);
        list.append(dt, dd);
      }
      if (keys.length === 0) {
        const dd = document.createElement("dd");
        dd.textContent = "no details given";
        list.append(dd);
      }
    } catch (error) {
      list.replaceChildren();
      const dd = document.createElement("dd");
      dd.textContent = `could not load the model description (${error.message || error})`;
      list.append(dd);
    }
  }

  // ---- Wiring ----------------------------------------------------------------------------------

  const cells = [0, 1, 2].map((i) => new Cell(document.getElementById(`cell-${i}`), `class ${i + 1}`, scheduleUpdate));
  const inputCell = new Cell(document.getElementById("cell-input"), "the test cell", scheduleUpdate);

  document.getElementById("edit-all").addEventListener("click", () => cells.forEach((c) => c.clear()));
  document.getElementById("edit-input").addEventListener("click", () => inputCell.clear());
  document.getElementById("load-examples").addEventListener("click", loadExamples);

  loadExamples();
  loadInfo();
})();
"""#
}
