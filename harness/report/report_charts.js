/*
 * report_charts.js: the Chart.js charts (second of the report's scripts,
 * after report_base.js). Drag-to-zoom shared by charts on the same x axis,
 * the warm-up band and zoom-selection overlay, the memory curves (per rep,
 * median, quiesce points; over requests or time), throughput, latency,
 * GC pauses and the pause histogram, drawn from the downsampled series
 * report.c wrote (pyab-series). charts, xMode and drawn are the page
 * state report_page.js reads and switches.
 */

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
    if (chart.$empty) {
      const { ctx, chartArea: a } = chart;
      ctx.save();
      ctx.fillStyle = '#66707a';
      ctx.font = '14px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.fillText(chart.$empty, (a.left + a.right) / 2, (a.top + a.bottom) / 2);
      ctx.restore();
    }
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
        borderColor: alpha(a.color, reps.length > 1 ? 0.4 : 0.9), borderWidth: 1, borderDash: a.dash });
    }
    const m = a.median && a.median[axis];
    if (m && reps.length > 1) {
      sets.push({ label: `${a.name} median`, $arm: a.name, data: points(m.x, m[key]), borderColor: a.color, borderWidth: 2.6,
        borderDash: a.dash });
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
  if (!sets.some((d) => d.data.length)) {
    /* An axis with nothing on it reads as a drawing failure: say what happened. */
    chart.$empty = 'no GC collections during the replay';
    chart.options.scales.y.type = 'linear';
    chart.options.scales.y.ticks.callback = () => '';
  }
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
  const hist = makeChart(parent, 'GC pause histogram (all reps of each arm)', {
    type: 'bar', data: { labels: labels.slice(lo, hi + 1), datasets: sets },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: ARMS.length > 1 } },
      scales: { x: { title: { display: true, text: 'pause' } }, y: { title: { display: true, text: 'collections' } } } },
  }, { cls: 'nopng' });
  if (!ARMS.some((a) => a.pause_hist.total > 0)) {
    hist.$empty = 'no GC collections during the replay';
    hist.update('none');
  }
}

/* The q-quantile of the finite values of xs (nearest rank); NaN when none. */
function quantile(xs, q) {
  const v = xs.filter(isNum).sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : NaN;
}

/*
 * Throughput: a start-up burst (a backlog served at once) can be many times
 * the steady rate and flatten the line. The y axis is clipped to the steady
 * part (after the warm-up band, 1.3 x its 95th percentile) when the burst
 * passes that by more than half; a button shows the whole range.
 */
function throughputChart(parent) {
  const sets = perRep((a, r) => [{ label: `${a.name} rep ${r.rep}`, $arm: a.name,
    data: points(r.t, r.tput), borderColor: alpha(a.color, 0.8), borderDash: a.dash }]);
  const chart = timeChart(parent, 'Throughput (requests/s)', sets, (v) => fmtNum(v), (v) => fmtNum(v) + ' req/s');
  const band = warmupBand('time'), from = band ? band.to : 0;
  const all = sets.flatMap((d) => d.data.map((p) => p.y));
  const steadyPts = sets.flatMap((d) => d.data.filter((p) => p.x >= from).map((p) => p.y));
  const top = quantile(steadyPts.length ? steadyPts : all, 0.95), max = Math.max(...all.filter(isNum));
  if (!isNum(top) || !(max > 1.5 * top * 1.3)) return chart;
  const clip = top * 1.3;
  const fig = parent.lastChild, btn = el('button', { type: 'button', class: 'clip' }, 'show the whole range');
  const note = el('p', { class: 'note' }, `y axis clipped to the steady part (up to ${fmtNum(clip)} req/s); `
    + `the start-up burst reaches ${fmtNum(max)} req/s. `, btn);
  chart.options.scales.y.max = clip;
  chart.options.scales.y.min = 0;
  chart.$clipped = true;
  btn.addEventListener('click', () => {
    chart.$clipped = !chart.$clipped;
    chart.options.scales.y.max = chart.$clipped ? clip : undefined;
    btn.textContent = chart.$clipped ? 'show the whole range' : 'clip to the steady part';
    chart.update('none');
  });
  fig.append(note);
  chart.update('none');
  return chart;
}

function drawCharts(grid) {
  for (const [key, title] of MEM) memChart(grid, key, key === 'native' ? nativeTitle() : title);
  throughputChart(grid);
  gcChart(grid);
  timeChart(grid, 'Latency p50 (solid) and p99 (dashed)', perRep((a, r) => [
    { label: `${a.name} rep ${r.rep} p50`, $arm: a.name, data: points(r.t, r.p50), borderColor: alpha(a.color, 0.8), borderDash: a.dash },
    { label: `${a.name} rep ${r.rep} p99`, $arm: a.name, data: points(r.t, r.p99), borderColor: alpha(a.color, 0.8), borderDash: [4, 3] },
  ]), (v) => fmtMs(v), fmtMs, 'nopng');
  histChart(grid);
}
