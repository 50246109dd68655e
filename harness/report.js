/*
 * report.js: draws pyab's report page from the JSON blocks report.c wrote
 * into it (pyab-meta, pyab-summary, pyab-manifest, pyab-series), with
 * Chart.js inlined before this script.
 *
 * Everything in those blocks came from a trace, a service or a user, so
 * text reaches the page only through text nodes (el() below), never as
 * markup. summary.json fields are optional: a section renders what is
 * there and says so when nothing is.
 *
 * When every chart has drawn, <body> gets data-rendered="1" plus
 * data-charts / data-drawn counts, data-render-ms (drawing) and
 * data-load-ms (since navigation started); the browser test
 * waits for that. report.html#png is a compact layout for the screenshot.
 */
(function () {
  'use strict';

  const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
  const MEM = [
    ['rss', 'RSS'],
    ['pyheap', 'Python heap'],
    ['native', 'Native heap'],
    ['native_free', 'Allocator free bytes (native_free_bytes)'],
  ];

  function readJSON(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  /* Builds an element; strings become text nodes, so data is never parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k === 'style') node.style.cssText = v;
      else node.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const isNum = (v) => typeof v === 'number' && isFinite(v);

  // step: the distance between neighbouring axis ticks, when formatting a
  // tick, so that close ticks on a flat curve still read differently.
  function fmtBytes(b, step) {
    if (!isNum(b)) return '—';
    const a = Math.abs(b);
    const unit = a >= 1024 ** 3 ? [1024 ** 3, ' GiB'] : a >= 1024 ** 2 ? [1024 ** 2, ' MiB']
      : a >= 1024 ? [1024, ' KiB'] : [1, ' B'];
    let digits = unit[0] === 1 ? 0 : unit[0] === 1024 ** 3 ? 2 : a >= 100 * unit[0] ? 0 : 1;
    if (isNum(step) && step > 0 && unit[0] > 1)
      digits = Math.min(6, Math.max(digits, Math.ceil(-Math.log10(step / unit[0]))));
    return (b / unit[0]).toFixed(digits) + unit[1];
  }

  function fmtNum(v, digits) {
    if (!isNum(v)) return v === null || v === undefined ? '—' : String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(2);
    return v.toLocaleString('en-US', { maximumSignificantDigits: digits || 4 });
  }

  function fmtMs(ms) {
    if (!isNum(ms)) return '—';
    if (ms < 1) return (ms * 1000).toPrecision(3) + ' µs';
    if (ms < 1000) return ms.toPrecision(3) + ' ms';
    return (ms / 1000).toPrecision(3) + ' s';
  }

  function fmtCI(ci, f) {
    return Array.isArray(ci) && ci.length === 2 ? `[${f(ci[0])}, ${f(ci[1])}]` : '—';
  }

  /* Any JSON value as readable nodes: scalars as text, objects as key/value lists.
     key: the object key it sits under; version numbers (python_hexversion) stay as written. */
  function renderValue(v, key) {
    if (v === null || v === undefined) return el('span', { class: 'muted' }, '—');
    if (typeof v === 'number' && /version/i.test(key || '')) return el('span', { class: 'num' }, String(v));
    if (typeof v === 'number') return el('span', { class: 'num' }, fmtNum(v));
    if (typeof v !== 'object') return el('span', null, String(v));
    if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x !== 'object')) return el('span', null, v.map(String).join(', '));
      return el('ol', { class: 'plain' }, v.map((x) => el('li', null, renderValue(x))));
    }
    return el('dl', { class: 'kv' }, Object.entries(v).map(([k, x]) => [el('dt', null, k), el('dd', null, renderValue(x, k))]));
  }

  function table(headers, rows, cls) {
    return el('table', { class: cls || '' },
      el('thead', null, el('tr', null, headers.map((h) => el('th', null, h)))),
      el('tbody', null, rows.map((r) => el('tr', null, r.map((c) => el('td', null, c instanceof Node ? c : String(c)))))));
  }

  function section(id, title, ...body) {
    return el('section', { id, class: 'card' }, el('h2', null, title), ...body);
  }

  function verdictBadge(v) {
    let text = typeof v === 'string' ? v : v && (v.verdict || v.status || v.label || v.kind || v.result);
    if (typeof text !== 'string') return null;
    let kind = 'neutral';
    if (/^(no[ _-]|ok|pass|flat|stable|none|clean)/i.test(text)) kind = 'good';
    else if (/leak|regress|fail|grow|worse|bad/i.test(text)) kind = 'bad';
    else if (/inconclusive|unknown|noisy|warn/i.test(text)) kind = 'warn';
    return el('span', { class: 'badge ' + kind }, text);
  }

  /* ---------- data ---------- */

  const META = readJSON('pyab-meta') || {};
  const SUMMARY = readJSON('pyab-summary') || {};
  const MANIFEST = readJSON('pyab-manifest');
  const SERIES = readJSON('pyab-series') || { arms: [] };
  const PNG = location.hash === '#png';
  const ARMS = SERIES.arms.map((a, i) => ({ ...a, color: PALETTE[i % PALETTE.length] }));
  const summaryArm = (name) => (SUMMARY.arms && SUMMARY.arms[name]) || {};

  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
  }

  function points(xs, ys) {
    const out = new Array(Math.min(xs.length, ys.length));
    for (let i = 0; i < out.length; i++) out[i] = { x: xs[i], y: ys[i] };
    return out;
  }

  /* ---------- zoom: drag across a chart to zoom its x range, double-click to reset ---------- */

  const charts = [];
  let xMode = 'requests';
  let drawn = 0;

  function zoomAxis(axis, min, max) {
    for (const c of charts) {
      if (!c.$axis || c.$axis() !== axis) continue;
      c.options.scales.x.min = min;
      c.options.scales.x.max = max;
      c.update('none');
    }
  }

  function attachZoom(chart) {
    const canvas = chart.canvas;
    let sel = null;
    const xOf = (ev) => ev.clientX - canvas.getBoundingClientRect().left;
    const clamp = (x) => Math.max(chart.chartArea.left, Math.min(chart.chartArea.right, x));
    canvas.addEventListener('mousedown', (ev) => {
      const x = xOf(ev);
      if (ev.button !== 0 || x < chart.chartArea.left || x > chart.chartArea.right) return;
      sel = { a: x, b: x };
      chart.$sel = sel;
      ev.preventDefault();
    });
    window.addEventListener('mousemove', (ev) => {
      if (!sel) return;
      sel.b = clamp(xOf(ev));
      chart.draw();
    });
    window.addEventListener('mouseup', () => {
      if (!sel) return;
      const lo = Math.min(sel.a, sel.b), hi = Math.max(sel.a, sel.b);
      sel = chart.$sel = null;
      if (hi - lo < 4) return chart.draw();
      const sc = chart.scales.x;
      zoomAxis(chart.$axis(), sc.getValueForPixel(lo), sc.getValueForPixel(hi));
    });
    canvas.addEventListener('dblclick', () => zoomAxis(chart.$axis(), undefined, undefined));
  }

  /* Draws the warm-up band and the zoom selection; counts first draws. */
  const overlay = {
    id: 'pyabOverlay',
    beforeDatasetsDraw(chart) {
      const band = chart.$band && chart.$band();
      if (!band) return;
      const { ctx, chartArea: a, scales: { x } } = chart;
      const l = Math.max(a.left, x.getPixelForValue(band.from)), r = Math.min(a.right, x.getPixelForValue(band.to));
      if (r <= l) return;
      ctx.save();
      ctx.fillStyle = 'rgba(255, 193, 7, 0.13)';
      ctx.fillRect(l, a.top, r - l, a.bottom - a.top);
      ctx.fillStyle = 'rgba(140, 100, 0, 0.8)';
      ctx.font = '11px system-ui, sans-serif';
      if (r - l > 50) ctx.fillText('warm-up', l + 4, a.top + 12);
      ctx.restore();
    },
    afterDraw(chart) {
      if (chart.$sel) {
        const { ctx, chartArea: a } = chart;
        ctx.save();
        ctx.fillStyle = 'rgba(30, 100, 200, 0.15)';
        ctx.fillRect(Math.min(chart.$sel.a, chart.$sel.b), a.top, Math.abs(chart.$sel.b - chart.$sel.a), a.bottom - a.top);
        ctx.restore();
      }
      if (!chart.$drawn) {
        chart.$drawn = true;
        drawn++;
      }
    },
  };

  function makeChart(parent, title, cfg, opts) {
    const canvas = el('canvas', { 'aria-label': title, role: 'img' });
    parent.append(el('figure', { class: 'chart' + (opts.cls ? ' ' + opts.cls : '') },
      el('figcaption', null, title), el('div', { class: 'canvas-box' }, canvas)));
    cfg.plugins = [overlay];
    const chart = new Chart(canvas, cfg);
    chart.$axis = opts.axis;
    chart.$band = opts.band;
    if (opts.axis) attachZoom(chart);
    charts.push(chart);
    return chart;
  }

  function baseOptions(yTick, yTitle, tooltipValue) {
    return {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      spanGaps: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1, tension: 0 } },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => items.length ? xLabel(items[0].chart, items[0].parsed.x) : '',
            label: (item) => `${item.dataset.label}: ${tooltipValue(item.parsed.y)}`,
          },
        },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: '' }, ticks: { maxTicksLimit: 8, callback: (v) => fmtNum(v) } },
        y: { title: { display: !!yTitle, text: yTitle }, ticks: { callback: yTick } },
      },
    };
  }

  function xLabel(chart, x) {
    return chart.$axis() === 'time' ? `t = ${fmtNum(x)} s` : `${fmtNum(Math.round(x))} requests`;
  }

  function axisTitle(axis) {
    return axis === 'time' ? 'seconds since replay start' : 'requests completed';
  }

  /* ---------- memory curves ---------- */

  function warmupBand(axis) {
    let to = null;
    for (const a of ARMS) for (const r of a.reps) {
      if (r.warmup) to = Math.max(to === null ? -Infinity : to, axis === 'time' ? r.warmup.t : r.warmup.r);
    }
    return isNum(to) && to > 0 ? { from: 0, to } : null;
  }

  function memDatasets(key, axis) {
    const sets = [];
    const xk = axis === 'time' ? 't' : 'r';
    for (const a of ARMS) {
      const reps = a.reps.filter((r) => r.t);
      for (const r of reps) {
        sets.push({ label: `${a.name} rep ${r.rep}`, $arm: a.name, data: points(r[xk], r[key]),
          borderColor: alpha(a.color, reps.length > 1 ? 0.4 : 0.9), borderWidth: 1 });
      }
      const m = a.median && a.median[axis];
      if (m && reps.length > 1) {
        sets.push({ label: `${a.name} median`, $arm: a.name, data: points(m.x, m[key]), borderColor: a.color, borderWidth: 2.6 });
      }
      const q = reps.flatMap((r) => points(r.quiesce[xk], r.quiesce[key]));
      if (q.length) {
        sets.push({ label: `${a.name} quiesce`, $arm: a.name, data: q, showLine: false, pointStyle: 'triangle',
          pointRadius: 6, pointHoverRadius: 8, backgroundColor: a.color, borderColor: '#fff', borderWidth: 1 });
      }
    }
    return sets;
  }

  function memChart(parent, key, title) {
    const opts = baseOptions((v, i, ticks) =>
      fmtBytes(v, ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : undefined),
    null, (v) => fmtBytes(v));
    const chart = makeChart(parent, title, { type: 'line', data: { datasets: memDatasets(key, xMode) }, options: opts },
      { axis: () => xMode, band: () => warmupBand(xMode) });
    chart.$refresh = () => {
      chart.data.datasets = memDatasets(key, xMode);
      chart.options.scales.x.title.text = axisTitle(xMode);
      chart.options.scales.x.min = chart.options.scales.x.max = undefined;
      chart.update('none');
    };
    chart.options.scales.x.title.text = axisTitle(xMode);
    chart.update('none');
  }

  /* ---------- throughput, latency, GC ---------- */

  function timeChart(parent, title, datasets, yTick, tip, cls) {
    const opts = baseOptions(yTick, null, tip);
    opts.scales.x.title.text = axisTitle('time');
    return makeChart(parent, title, { type: 'line', data: { datasets }, options: opts },
      { axis: () => 'time', band: () => warmupBand('time'), cls });
  }

  function perRep(fn) {
    return ARMS.flatMap((a) => a.reps.filter((r) => r.t).flatMap((r) => fn(a, r)));
  }

  function gcChart(parent) {
    const sets = ARMS.map((a) => ({
      label: `${a.name} GC pause`, $arm: a.name, showLine: false,
      data: a.reps.filter((r) => r.gc).flatMap((r) => r.gc.t.map((t, i) => ({ x: t, y: r.gc.ms[i], g: r.gc.gen[i] }))).filter((p) => p.y > 0),
      backgroundColor: alpha(a.color, 0.55), borderColor: alpha(a.color, 0.9), borderWidth: 0,
      pointRadius: (ctx) => (ctx.raw && ctx.raw.g === 2 ? 4 : 2),
      pointStyle: (ctx) => (ctx.raw && ctx.raw.g === 2 ? 'rectRot' : 'circle'),
    }));
    const chart = timeChart(parent, 'GC pauses (◆ gen 2, • gen 0/1)', sets, (v) => fmtMs(v), fmtMs);
    chart.options.scales.y.type = 'logarithmic';
    chart.options.scales.y.ticks.callback = (v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6 ? fmtMs(v) : '');
    chart.options.plugins.tooltip.callbacks.label = (item) => `${item.dataset.label} (gen ${item.raw.g}): ${fmtMs(item.raw.y)}`;
    chart.update('none');
    const shown = ARMS.flatMap((a) => a.reps.filter((r) => r.gc && r.gc.shown < r.gc.n));
    if (shown.length) parent.lastChild.append(el('p', { class: 'note' }, 'Many pauses: each point is the longest of a run of consecutive collections.'));
  }

  function histChart(parent) {
    const edges = ARMS.length ? ARMS[0].pause_hist.edges_ms : [];
    const labels = ['< ' + fmtMs(edges[0])];
    for (let i = 1; i < edges.length; i++) labels.push(fmtMs(edges[i - 1]) + '–' + fmtMs(edges[i]));
    labels.push('≥ ' + fmtMs(edges[edges.length - 1]));
    const nonzero = labels.map((_, i) => ARMS.some((a) => a.pause_hist.counts[i] > 0));
    let lo = nonzero.indexOf(true), hi = nonzero.lastIndexOf(true);
    if (lo < 0) lo = hi = 0;
    const sets = ARMS.map((a) => ({ label: a.name, $arm: a.name, data: a.pause_hist.counts.slice(lo, hi + 1),
      backgroundColor: alpha(a.color, 0.7), borderColor: a.color, borderWidth: 1 }));
    makeChart(parent, 'GC pause histogram (all reps of each arm)', {
      type: 'bar', data: { labels: labels.slice(lo, hi + 1), datasets: sets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: ARMS.length > 1 } },
        scales: { x: { title: { display: true, text: 'pause' } }, y: { title: { display: true, text: 'collections' } } } },
    }, { cls: 'nopng' });
  }

  /* ---------- sections ---------- */

  function header() {
    const m = MANIFEST || {};
    const scen = SUMMARY.scenario || (m.scenario && m.scenario.name) || '(unnamed scenario)';
    document.title = 'pyab report: ' + scen;
    const facts = [
      ['status', SUMMARY.status], ['control arm', SUMMARY.control], ['started', m.started_utc],
      ['git', m.git_revision], ['host', m.host && `${m.host.hostname || '?'} (${m.host.cpus || '?'} CPUs)`],
      ['report generated', META.generated_utc],
    ].filter(([, v]) => v !== undefined && v !== null);
    const verdictLine = ARMS.filter((a) => summaryArm(a.name).verdict !== undefined).map((a) =>
      el('span', null, el('span', { class: 'swatch', style: `background:${a.color}` }), ' ', a.name, ' ', verdictBadge(summaryArm(a.name).verdict)));
    return el('header', { class: 'top' },
      el('h1', null, 'pyab report ', el('span', { class: 'scenario' }, scen)),
      el('p', { class: 'facts' }, facts.map(([k, v]) => el('span', null, el('b', null, k + ': '), String(v)))),
      verdictLine.length ? el('p', { class: 'facts' }, el('b', null, 'verdicts:'), verdictLine) : null,
      el('p', { class: 'muted small' }, META.dir || ''));
  }

  /* A slope in bytes per request, 4 significant digits, with its interval. */
  function fmtSlope(v) {
    if (!v || !isNum(v.bytes_per_request)) return '—';
    const ci = Array.isArray(v.ci) ? ` [${fmtSig(v.ci[0])}, ${fmtSig(v.ci[1])}]` : '';
    return `${fmtSig(v.bytes_per_request)} B/request${ci}`;
  }

  /* The arm's slopes on its card: the figures the verdict rests on. */
  function cardSlopes(s) {
    const slopes = s.slopes && typeof s.slopes === 'object' ? s.slopes : {};
    const rows = ['pyheap', 'native', 'rss'].filter((m) => slopes[m] && typeof slopes[m] === 'object')
      .map((m) => [el('dt', null, m), el('dd', null, fmtSlope(slopes[m]), slopes[m].class ? el('span', { class: 'muted' }, ` (${slopes[m].class})`) : null)]);
    const next = s.evidence && typeof s.evidence.next === 'string' ? el('p', { class: 'note' }, 'needs: ' + s.evidence.next) : null;
    return rows.length || next ? el('div', null, rows.length ? el('dl', { class: 'kv' }, rows) : null, next) : null;
  }

  function verdicts() {
    const cards = ARMS.map((a) => {
      const s = summaryArm(a.name);
      return el('div', { class: 'verdict', style: `border-left-color:${a.color}` },
        el('h3', null, a.name, SUMMARY.control === a.name ? el('span', { class: 'tag' }, 'control') : null),
        s.verdict !== undefined ? el('div', null, verdictBadge(s.verdict), typeof s.verdict === 'object' ? renderValue(s.verdict) : null)
          : el('p', { class: 'muted' }, 'no verdict in summary.json'),
        cardSlopes(s),
        s.attribution !== undefined ? el('div', null, el('h4', null, 'attribution'), renderValue(s.attribution)) : null,
        s.evidence !== undefined ? el('details', null, el('summary', null, 'evidence'), renderValue(s.evidence)) : null);
    });
    return section('verdicts', 'Verdicts', el('div', { class: 'verdicts' }, cards));
  }

  function armTable() {
    const rows = ARMS.map((a) => {
      const s = summaryArm(a.name), reps = s.reps || a.reps;
      const ok = reps.filter((r) => r.outcome === 'ok').length;
      const lat = s.latency_ms || {};
      return [el('span', { class: 'swatch', style: `background:${a.color}` }), a.name, `${ok}/${reps.length}`,
        fmtNum(s.throughput_rps), fmtMs(lat.p50), fmtMs(lat.p99), fmtBytes(s.peak_rss_bytes), fmtNum(s.errors),
        s.gc && isNum(s.gc.pause_p99_ms) ? fmtMs(s.gc.pause_p99_ms) : '—',
        s.gc && isNum(s.gc.time_share) ? (100 * s.gc.time_share).toFixed(2) + ' %' : '—'];
    });
    const slopeRows = [];
    for (const a of ARMS) {
      const slopes = summaryArm(a.name).slopes || {};
      for (const [metric, v] of Object.entries(slopes)) {
        slopeRows.push([a.name, metric, fmtNum(v && v.bytes_per_request), fmtNum(v && v.mb_per_hour), fmtCI(v && v.ci, (x) => fmtNum(x))]);
      }
    }
    return section('arms', 'Arms',
      table(['', 'arm', 'ok reps', 'throughput (req/s)', 'latency p50', 'latency p99', 'peak RSS', 'errors', 'GC pause p99', 'time in GC'], rows),
      el('h3', null, 'Growth slopes'),
      slopeRows.length ? table(['arm', 'metric', 'bytes / request', 'MB / hour', 'CI'], slopeRows)
        : el('p', { class: 'muted' }, 'summary.json has no slopes.'));
  }

  function genericTable(list) {
    const keys = [...new Set(list.flatMap((o) => (o && typeof o === 'object' ? Object.keys(o) : [])))];
    return table(keys, list.map((o) => keys.map((k) => renderValue(o ? o[k] : null))));
  }

  /* 3-4 significant digits, no exponent for everyday sizes, '—' when missing. */
  function fmtSig(v) {
    if (!isNum(v)) return '—';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e9)) return v.toExponential(2);
    return Number(v.toPrecision(a >= 1000 ? 4 : 3)).toLocaleString('en-US', { maximumFractionDigits: 6 });
  }

  /* Bytes in B / KiB / MiB / GiB to 4 significant digits. */
  function fmtBytesSig(b) {
    if (!isNum(b)) return '—';
    const a = Math.abs(b);
    const unit = a >= 1024 ** 3 ? [1024 ** 3, ' GiB'] : a >= 1024 ** 2 ? [1024 ** 2, ' MiB']
      : a >= 1024 ? [1024, ' KiB'] : [1, ' B'];
    return Number((b / unit[0]).toPrecision(4)).toLocaleString('en-US', { maximumFractionDigits: 3 }) + unit[1];
  }

  /* How each compared figure reads: its label and its formatter (analyze's figure names). */
  function figureFormat(name) {
    if (/_slope$/.test(name)) return [name.replace(/_slope$/, '') + ' slope (B/request)', fmtSig];
    if (/_bytes$/.test(name)) return [name.replace(/_bytes$/, '').replace(/_/g, ' '), fmtBytesSig];
    if (/_ms$/.test(name)) return [name.replace(/_ms$/, '').replace(/_/g, ' '), fmtMs];
    if (/_share$/.test(name)) return [name.replace(/_/g, ' '), (v) => (isNum(v) ? fmtSig(100 * v) + ' %' : '—')];
    if (/_rps$/.test(name)) return [name.replace(/_rps$/, '').replace(/_/g, ' ') + ' (req/s)', fmtSig];
    return [name, fmtSig];
  }

  /* A difference with its sign: fmt of the magnitude, so units stay right (KiB, ms). */
  function signed(v, fmt) {
    if (!isNum(v)) return '—';
    return (v > 0 ? '+' : v < 0 ? '−' : '') + fmt(Math.abs(v));
  }

  /* One comparison (arm vs control) as a compact table; significant rows in bold. */
  function comparisonTable(c) {
    const figs = c.figures && typeof c.figures === 'object' ? c.figures : {};
    const rows = Object.entries(figs).filter(([, f]) => f && typeof f === 'object').map(([name, f]) => {
      const [label, fmt] = figureFormat(name);
      const ci = Array.isArray(f.ci) && isNum(f.ci[0]) && isNum(f.ci[1])
        ? `[${signed(f.ci[0], fmt)}, ${signed(f.ci[1], fmt)}]` : '—';
      const sig = f.significant === true;
      const mark = (x) => (sig ? el('b', null, x) : x);
      return [label, fmt(f.control_mean), fmt(f.arm_mean), mark(signed(f.diff, fmt)), mark(ci),
        isNum(f.p) ? fmtSig(f.p) : '—', sig ? el('b', null, 'yes') : el('span', { class: 'muted' }, 'no')];
    });
    const reps = Array.isArray(c.reps) ? ` (${c.reps[0]} vs ${c.reps[1]} ok reps)` : '';
    return el('div', null,
      el('h3', null, `${c.arm} vs ${c.control}${reps}`),
      rows.length ? table(['figure', 'control', 'arm', 'difference', 'CI', 'p', 'significant'], rows)
        : el('p', { class: 'muted' }, 'no figures to compare'),
      typeof c.statement === 'string' ? el('p', { class: 'note' }, c.statement) : null);
  }

  function comparisons() {
    const list = Array.isArray(SUMMARY.comparisons) ? SUMMARY.comparisons : [];
    /* summary.json as `pyab compare` writes it; anything else is shown as it is. */
    const known = list.length && list.every((c) => c && typeof c === 'object' && c.figures && typeof c.figures === 'object');
    return section('comparisons', 'Comparisons',
      !list.length ? el('p', { class: 'muted' }, 'summary.json has no comparisons.')
        : known ? list.map(comparisonTable) : genericTable(list));
  }

  function ablation() {
    const ab = SUMMARY.ablation;
    if (!ab) return null;
    const ranking = Array.isArray(ab.ranking) ? ab.ranking : [];
    const rows = ranking.map((r, i) => [String(i + 1), renderValue(r.suspect), fmtNum(r.growth_removed), fmtCI(r.ci, (x) => fmtNum(x))]);
    const rest = Object.fromEntries(Object.entries(ab).filter(([k]) => k !== 'ranking'));
    return section('ablation', 'Ablation ranking',
      rows.length ? table(['rank', 'suspect', 'growth removed', 'CI'], rows) : el('p', { class: 'muted' }, 'no ranking'),
      Object.keys(rest).length ? renderValue(rest) : null);
  }

  /* pyab check: its verdicts, and each metric's trend over the history database's last runs. */
  function checkAndHistory() {
    const ck = SUMMARY.check, h = SUMMARY.history;
    if (!ck && !h) return null;
    const checks = ck && Array.isArray(ck.checks) ? ck.checks : [];
    const rows = checks.map((c) => [verdictBadge(c.status) || c.status, renderValue(c.arm), renderValue(c.kind),
      renderValue(c.name), renderValue(c.message)]);
    const spark = (vals) => {
      const xs = vals.filter((v) => typeof v === 'number'), lo = Math.min(...xs), hi = Math.max(...xs);
      return vals.map((v) => (typeof v !== 'number' ? ' ' : '▁▂▃▄▅▆▇█'[hi > lo ? Math.round(7 * (v - lo) / (hi - lo)) : 0])).join('');
    };
    const trend = [];
    for (const [arm, ms] of Object.entries((h && h.arms) || {})) {
      for (const [metric, m] of Object.entries(ms)) {
        const vals = m.values || [], cps = m.change_points || [];
        trend.push([arm, metric, el('code', null, spark(vals)), fmtNum(vals[vals.length - 1]),
          cps.length ? cps.map((c) => `run ${c.run + 1} (${c.date_utc || '?'}): ${fmtNum(c.before)} → ${fmtNum(c.after)}`).join('; ') : 'steady']);
      }
    }
    return section('check', 'Check and history',
      rows.length ? table(['status', 'arm', 'kind', 'check', 'figures'], rows) : null,
      h ? el('h3', null, `Trend over ${(h.runs || []).length} runs`) : null,
      trend.length ? table(['arm', 'metric', 'runs (oldest → newest)', 'last', 'change points'], trend) : null);
  }

  function repsTable() {
    const rows = [];
    for (const a of ARMS) {
      const listed = summaryArm(a.name).reps || [];
      for (const r of a.reps) {
        const s = listed.find((x) => x.rep === r.rep) || {};
        rows.push([a.name, String(r.rep), verdictBadge(r.outcome || s.outcome || '?') || '?', s.reason || r.missing || '',
          fmtNum(s.requests), fmtNum(s.errors), fmtNum(s.duration_s), fmtNum(s.throughput_rps),
          fmtMs(s.latency_ms && s.latency_ms.p99), fmtBytes(s.peak_rss_bytes), fmtNum(r.samples),
          r.gc ? fmtNum(r.gc.n) : '—']);
      }
    }
    return section('reps', 'Reps', table(['arm', 'rep', 'outcome', 'reason', 'requests', 'errors', 'duration (s)',
      'req/s', 'p99', 'peak RSS', 'samples', 'GC collections'], rows));
  }

  /*
   * Errors of one arm by route: the arm's errors_by_route when summary.json
   * has it, else merged from its reps (errors_by_route, or routes[].exceptions).
   */
  function armErrors(name) {
    const s = summaryArm(name), merged = new Map();
    const add = (route, count, first, rep) => {
      const m = merged.get(route) || { count: 0, first: null, rep: null };
      m.count += isNum(count) ? count : 0;
      if (!m.first && first) Object.assign(m, { first, rep });
      merged.set(route, m);
    };
    if (s.errors_by_route) {
      for (const [route, e] of Object.entries(s.errors_by_route)) add(route, e && e.count, e && e.first, null);
      return merged;
    }
    for (const rep of s.reps || []) {
      for (const [route, e] of Object.entries(rep.errors_by_route || {})) add(route, e && e.count, e && e.first, rep.rep);
      for (const [route, r] of Object.entries(rep.errors_by_route ? {} : rep.routes || {})) {
        const ex = (r && r.exceptions) || [];
        if ((r && r.errors) || ex.length) add(route, r.errors, ex[0], rep.rep);
      }
    }
    return merged;
  }

  function errorsSection() {
    const rows = [];
    for (const a of ARMS) {
      for (const [route, m] of armErrors(a.name)) {
        const where = m.rep !== null ? `first, rep ${m.rep}` : 'first';
        const tb = m.first ? el('details', null, el('summary', null, `${m.first.type || 'error'} (${where})`),
          el('pre', null, m.first.traceback || '')) : '—';
        rows.push([a.name, el('code', null, route), fmtNum(m.count), tb]);
      }
    }
    return section('errors', 'Errors per route',
      rows.length ? table(['arm', 'route', 'count', 'first exception'], rows, 'errors') : el('p', { class: 'muted' }, 'No errors recorded.'));
  }

  function provenance() {
    if (!MANIFEST) return section('provenance', 'Scenario and provenance', el('p', { class: 'muted' }, 'manifest.json not found.'));
    const m = MANIFEST;
    const armDetails = Object.entries(m.arms || {}).map(([name, v]) =>
      el('details', null, el('summary', null, name), el('pre', null, JSON.stringify(v, null, 2))));
    return section('provenance', 'Scenario and provenance',
      el('dl', { class: 'kv' },
        el('dt', null, 'scenario file'), el('dd', null, el('code', null, m.scenario_path || '—')),
        el('dt', null, 'command'), el('dd', null, el('code', null, Array.isArray(m.argv) ? m.argv.join(' ') : '—')),
        el('dt', null, 'versions'), el('dd', null, renderValue(m.versions)),
        el('dt', null, 'host'), el('dd', null, renderValue(m.host)),
        el('dt', null, 'git revision'), el('dd', null, m.git_revision || '—'),
        el('dt', null, 'started (UTC)'), el('dd', null, m.started_utc || '—')),
      el('h3', null, 'Scenario'), el('pre', { class: 'json' }, JSON.stringify(m.scenario, null, 2)),
      armDetails.length ? el('h3', null, 'Arms: effective settings and read-back') : null, armDetails);
  }

  function legend() {
    const items = ARMS.map((a) => {
      const b = el('button', { class: 'arm-toggle', type: 'button', 'aria-pressed': 'true' },
        el('span', { class: 'swatch', style: `background:${a.color}` }), a.name);
      b.addEventListener('click', () => {
        const on = b.getAttribute('aria-pressed') !== 'true';
        b.setAttribute('aria-pressed', String(on));
        for (const c of charts) {
          c.data.datasets.forEach((d, i) => { if (d.$arm === a.name) c.setDatasetVisibility(i, on); });
          c.update('none');
        }
      });
      return b;
    });
    return el('div', { class: 'legend' }, items,
      el('span', { class: 'muted small' }, 'thin: one rep · bold: median of reps · ▲ quiesce (after gc.collect + malloc_trim) · shaded: warm-up'));
  }

  function chartsSection() {
    const sec = section('charts', 'Curves');
    const btn = (mode, text) => {
      const b = el('button', { type: 'button', class: 'mode' + (mode === xMode ? ' on' : '') }, text);
      b.addEventListener('click', () => {
        xMode = mode;
        sec.querySelectorAll('button.mode').forEach((x) => x.classList.toggle('on', x === b));
        charts.forEach((c) => c.$refresh && c.$refresh());
      });
      return b;
    };
    const reset = el('button', { type: 'button' }, 'reset zoom');
    reset.addEventListener('click', () => { zoomAxis('time'); zoomAxis('requests'); });
    sec.append(el('div', { class: 'toolbar' }, el('span', null, 'memory over: '), btn('requests', 'requests'), btn('time', 'time'),
      reset, el('span', { class: 'muted small' }, 'drag across a chart to zoom (charts on the same axis follow), double-click to reset')));
    sec.append(legend());
    const grid = el('div', { class: 'grid' });
    sec.append(grid);
    return { sec, grid };
  }

  function drawCharts(grid) {
    for (const [key, title] of MEM) memChart(grid, key, title);
    timeChart(grid, 'Throughput (requests/s)', perRep((a, r) => [{ label: `${a.name} rep ${r.rep}`, $arm: a.name,
      data: points(r.t, r.tput), borderColor: alpha(a.color, 0.8) }]), (v) => fmtNum(v), (v) => fmtNum(v) + ' req/s');
    gcChart(grid);
    timeChart(grid, 'Latency p50 (solid) and p99 (dashed)', perRep((a, r) => [
      { label: `${a.name} rep ${r.rep} p50`, $arm: a.name, data: points(r.t, r.p50), borderColor: alpha(a.color, 0.8) },
      { label: `${a.name} rep ${r.rep} p99`, $arm: a.name, data: points(r.t, r.p99), borderColor: alpha(a.color, 0.8), borderDash: [4, 3] },
    ]), (v) => fmtMs(v), fmtMs, 'nopng');
    histChart(grid);
  }

  function main() {
    const t0 = performance.now();
    const app = document.getElementById('app');
    if (PNG) document.body.classList.add('png');
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    const { sec, grid } = chartsSection();
    const nopng = (node) => { if (node) node.classList.add('nopng'); return node; };
    const parts = [header(), nopng(verdicts()), nopng(armTable()), sec, nopng(comparisons()), nopng(ablation()),
      nopng(checkAndHistory()), nopng(repsTable()), nopng(errorsSection()), nopng(provenance())];
    app.append(...parts.filter(Boolean));
    if (!ARMS.length) grid.append(el('p', { class: 'muted' }, 'No arms with samples in this folder.'));
    else drawCharts(grid);
    document.body.dataset.charts = String(charts.length);
    document.body.dataset.drawn = String(drawn);
    document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
    document.body.dataset.loadMs = String(Math.round(performance.now()));
    document.body.dataset.rendered = drawn === charts.length ? '1' : '0';
  }

  try {
    main();
  } catch (e) {
    document.body.dataset.rendered = 'error';
    document.body.prepend(el('div', { class: 'fatal' }, 'The report failed to draw: ' + e.message));
    throw e;
  }
})();
