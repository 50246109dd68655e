/*
 * report_base.js: the first of the report page's three scripts (then
 * report_charts.js, report_page.js). Holds the DOM helper el(), number and
 * byte formatters, small table/section builders, and the JSON blocks
 * report.c wrote into the page (pyab-meta, pyab-summary, pyab-manifest,
 * pyab-series), read once into META, SUMMARY, MANIFEST, SERIES and ARMS.
 *
 * report.c concatenates the three files in that order inside one
 * function, after 'use strict' and after Chart.js: every top-level name
 * here is visible to the later files and to nothing else on the page.
 *
 * Everything in those blocks came from a trace, a service or a user, so
 * text reaches the page only through text nodes (el() below), never as
 * markup. summary.json fields are optional: a section renders what is
 * there and says so when nothing is.
 */

/* Ten colours that stay apart (category10); arms past ten get them again with a line style. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22'];
const DASHES = [[], [7, 3], [2, 2], [9, 3, 2, 3]];
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
  else if (/leak|regress|fail|grow|worse|bad|crash|timeout|over-limit/i.test(text)) kind = 'bad';
  else if (/inconclusive|unknown|noisy|warn|unfinished|cut-off|interrupted|running/i.test(text)) kind = 'warn';
  return el('span', { class: 'badge ' + kind }, text);
}

/* ---------- data ---------- */

const META = readJSON('pyab-meta') || {};
const SUMMARY = readJSON('pyab-summary') || {};
const MANIFEST = readJSON('pyab-manifest');
const SERIES = readJSON('pyab-series') || { arms: [] };
const PNG = location.hash === '#png';
const ARMS = SERIES.arms.map((a, i) => ({ ...a, color: PALETTE[i % PALETTE.length],
  dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length] }));

/* An arm's swatch: its colour, striped like its line when the arm has a line style. */
function swatch(a) {
  const bg = a.dash && a.dash.length
    ? `background:repeating-linear-gradient(90deg,${a.color} 0 ${a.dash[0]}px,transparent ${a.dash[0]}px ${a.dash[0] + a.dash[1]}px)`
    : `background:${a.color}`;
  return el('span', { class: 'swatch', style: bg });
}

/*
 * What the native-heap curve is: native_other_bytes (malloc in use outside
 * the Python heap, what the verdict's "native" judges) when every drawn rep
 * has that column, else native_heap_bytes (all malloc, Python's blocks over
 * 512 B included).
 */
function nativeTitle() {
  const reps = SERIES.arms.flatMap((a) => a.reps.filter((r) => r.t));
  if (reps.length && reps.every((r) => r.native_column === 'native_other_bytes'))
    return 'Native heap outside Python (native_other_bytes: malloc in use minus Python\'s blocks; what the verdict judges)';
  if (reps.some((r) => r.native_column === 'native_other_bytes'))
    return 'Native heap (native_other_bytes where recorded, else native_heap_bytes)';
  return 'Native heap (native_heap_bytes: all malloc in use, Python\'s blocks over 512 B included)';
}

/* What one rep is, for a reader: its outcome, or why it is not drawn. */
function repState(r, s) {
  if (r.unlisted) return ['unfinished', 'not in summary.json: it was running when pyab stopped' +
    (r.partial ? '; drawn from samples.csv.part up to its last whole line' : '')];
  if (r.skipped) return [s.outcome || r.outcome || '?', 'not drawn: ' + r.skipped];
  if (s.analysis_skipped) return [s.outcome || r.outcome || '?', 'left out of the analysis: ' + s.analysis_skipped];
  return [r.outcome || s.outcome || '?', s.reason || r.missing || ''];
}
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
