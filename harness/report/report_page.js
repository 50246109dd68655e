/*
 * report_page.js: the page's sections and main() (last of the report's
 * scripts, after report_base.js and report_charts.js): header, verdict
 * cards, arms, comparisons, ablation, check and history, reps, errors per
 * route, provenance, the curves toolbar and legend.
 *
 * When every chart has drawn, <body> gets data-rendered="1" plus
 * data-charts / data-drawn counts, data-render-ms (drawing) and
 * data-load-ms (since navigation started); the browser test
 * waits for that. report.html#png is a compact layout for the screenshot.
 */

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
    el('span', null, swatch(a), ' ', a.name, ' ', verdictBadge(summaryArm(a.name).verdict)));
  return el('header', { class: 'top' },
    el('h1', null, 'pyab report ', el('span', { class: 'scenario' }, scen)),
    el('p', { class: 'facts' }, facts.map(([k, v]) => el('span', null, el('b', null, k + ': '), String(v)))),
    typeof SUMMARY.status_note === 'string' ? el('p', { class: 'warnline', id: 'status-note' }, SUMMARY.status_note)
      : SUMMARY.status === 'running' ? el('p', { class: 'warnline', id: 'status-note' },
        'summary.json says "running": the run is still going (or stopped seconds ago); the reps listed are those that had finished.') : null,
    typeof SUMMARY.interpreter_note === 'string' ? el('p', { class: 'warnline', id: 'interpreter-note' }, SUMMARY.interpreter_note) : null,
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

/*
 * The reps of an arm that did not finish ok, or are not drawn, with their
 * outcome and reason: why an arm reads "inconclusive" is here, not only in
 * the reps table. A rep killed at limits.rss_mb is a finding about memory.
 */
function cardReps(a, s) {
  const listed = s.reps || [];
  const items = a.reps.map((r) => {
    const x = listed.find((y) => y.rep === r.rep) || {};
    const [outcome, reason] = repState(r, x);
    if (outcome === 'ok' && !r.skipped && !x.analysis_skipped) return null;
    const memory = outcome === 'over-limit' ? el('b', null, ' (memory: it passed the limit)') : null;
    return el('li', null, `rep ${r.rep} `, verdictBadge(outcome) || outcome, memory, reason ? ': ' + reason : '');
  }).filter(Boolean);
  return items.length ? el('div', { class: 'card-reps' }, el('h4', null, 'reps not ok or not drawn'), el('ul', { class: 'plain' }, items)) : null;
}

/* A leak arm's card names the line that allocated most of what survives. */
function cardWhere(s) {
  const w = s.where;
  const top = w && Array.isArray(w.sites) ? w.sites[0] : null;
  if (s.verdict !== 'leak' || !top || !isNum(top.bytes_per_request)) return cardWhereNative(s);
  return el('div', null, el('p', null, 'top site: ', el('code', null, `${top.site} in ${top.function || '?'}`),
    ` ${fmtBytesSig(top.bytes_per_request)}/request`, top.state ? el('span', { class: 'muted' }, ` (${top.state})`) : null),
    cardWhereNative(s));
}

/* ... and, when the native heap is named, the library that holds most of it and the line that called in. */
function cardWhereNative(s) {
  const n = s.where && s.where.native;
  const lib = n && Array.isArray(n.libraries) ? n.libraries[0] : null;
  if (s.verdict !== 'leak' || !lib || !isNum(lib.bytes_per_request) || !String(s.attribution || '').includes('native-heap')) return null;
  const site = (n.sites || []).find((x) => x.object === lib.object) || {};
  return el('p', null, 'top native library: ', el('code', null, `${lib.object} (${site.symbol || 'no symbol'})`),
    site.python ? [' called from ', el('code', null, site.python)] : null,
    ` ${fmtBytesSig(lib.bytes_per_request)}/request`, lib.state ? el('span', { class: 'muted' }, ` (${lib.state})`) : null);
}

function verdicts() {
  const cards = ARMS.map((a) => {
    const s = summaryArm(a.name);
    return el('div', { class: 'verdict', style: `border-left-color:${a.color}` },
      el('h3', null, a.name, SUMMARY.control === a.name ? el('span', { class: 'tag' }, 'control') : null),
      s.verdict !== undefined ? el('div', null, verdictBadge(s.verdict), typeof s.verdict === 'object' ? renderValue(s.verdict) : null)
        : el('p', { class: 'muted' }, 'no verdict in summary.json'),
      cardReps(a, s),
      cardSlopes(s),
      cardWhere(s),
      s.attribution !== undefined ? el('div', null, el('h4', null, 'attribution'), renderValue(s.attribution),
        s.attribution_shares ? el('p', { class: 'note' }, 'share of the growth: ' + Object.entries(s.attribution_shares)
          .map(([k, v]) => `${k} ${isNum(v) ? Math.round(100 * v) : '?'}%`).join(', ')) : null) : null,
      s.evidence !== undefined ? el('details', null, el('summary', null, 'evidence'), renderValue(s.evidence)) : null);
  });
  return section('verdicts', 'Verdicts', el('div', { class: 'verdicts' }, cards));
}

function armTable() {
  const rows = ARMS.map((a) => {
    const s = summaryArm(a.name), reps = s.reps || a.reps;
    const ok = reps.filter((r) => r.outcome === 'ok').length;
    const lat = s.latency_ms || {};
    return [swatch(a), a.name, `${ok}/${reps.length}`,
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
    table(['', 'arm', 'ok reps', 'throughput (req/s, median of reps)', 'latency p50', 'latency p99', 'peak RSS', 'errors',
      'GC pause p99 (median of reps)', 'time in GC (median of reps)'], rows),
    el('p', { class: 'note' }, "latency p50 and p99: one histogram of every ok rep's requests (the p99 of the run table "
      + "and of each comparison's arm line); peak RSS: the highest of the reps."),
    el('h3', null, 'Growth slopes'),
    slopeRows.length ? table(['arm', 'metric', 'bytes / request', 'MB / hour', 'CI'], slopeRows)
      : el('p', { class: 'muted' }, 'summary.json has no slopes.'));
}

/* Which interpreter each arm ran, side by side, when the arms do not all run the same one. */
function interpreters() {
  const all = SUMMARY.interpreters;
  if (!all || typeof SUMMARY.interpreter_note !== 'string') return null;
  const rows = ARMS.filter((a) => all[a.name]).map((a) => {
    const it = all[a.name];
    return [swatch(a), a.name, it.python_short || '?', it.python_build || '?',
      Array.isArray(it.gc_threshold_default) ? it.gc_threshold_default.join(' / ') : '?', it.glibc || '?',
      el('code', null, it.child || '?')];
  });
  return section('interpreters', 'Interpreters',
    table(['', 'arm', 'Python', 'build', 'GC thresholds (default)', 'glibc', 'child'], rows, 'interpreters'),
    el('p', { class: 'note' }, SUMMARY.interpreter_note));
}

/* Where: per arm, the lines, types and holders of what survives (where.h). */
function whereArm(a, w) {
  const sites = (w.sites || []).slice(0, 10);
  const max = Math.max(1, ...sites.map((x) => (isNum(x.bytes_per_request) ? x.bytes_per_request : 0)));
  const bar = (v) => el('span', { class: 'bar', style: `display:inline-block;height:0.8em;width:${Math.round(120 * (isNum(v) ? v : 0) / max)}px;background:${a.color}` });
  const pct = (v) => (isNum(v) ? Math.round(100 * v) + ' %' : '—');
  const siteRows = sites.map((x) => [el('code', null, `${x.site} in ${x.function || '?'}`), x.package || '—', bar(x.bytes_per_request),
    fmtBytesSig(x.bytes_per_request), fmtCI(x.ci, fmtBytesSig), pct(x.share), x.state || '—']);
  const typeRows = (w.types || []).slice(0, 6).map((x) => [x.type, fmtBytesSig(x.bytes_per_request), fmtNum(x.objects_per_request, 3), pct(x.share)]);
  const siteOf = (key) => ((w.sites || []).find((x) => x.key === key) || {}).site || key;
  const holders = (w.holders || []).filter((h) => Array.isArray(h.chain) && h.chain.length).slice(0, 5)
    .map((h) => el('li', null, el('code', null, siteOf(h.key)), ': ', h.chain.join(' → ')));
  const leaks = (w.refcount_leaks || []).map((l) => el('li', null, `${l.site}: ${fmtNum(l.objects_per_request, 3)} ${l.type} objects/request `
    + 'held by no object the GC sees (a missing Py_DECREF, or a borrowed reference kept as owned)'));
  const how = w.mode === 'sampled' ? `sampled every ${fmtBytes(w.sample_bytes)}` : w.mode;
  return el('div', null,
    el('h3', null, swatch(a), ' ', a.name, el('span', { class: 'muted' }, ` — ${how}; ${fmtBytesSig(w.bytes_per_request)}/request made after warm-up survive (${w.point || '?'})`)),
    siteRows.length ? table(['site', 'package', '', 'bytes / request', 'CI', 'share', 'state'], siteRows) : el('p', { class: 'muted' }, 'nothing allocated after warm-up survives'),
    typeRows.length ? el('div', null, el('h4', null, 'types'), table(['type', 'bytes / request', 'objects / request', 'share'], typeRows)) : null,
    holders.length ? el('div', null, el('h4', null, 'held by'), el('ul', { class: 'plain' }, holders)) : null,
    leaks.length ? el('div', null, el('h4', null, 'reference-count leaks'), el('ul', { class: 'plain' }, leaks)) : null,
    whereNative(a, w.native));
}

/* The native side (where.native): libraries, then sites with the Python line that called in. */
function whereNative(a, n) {
  if (!n || !Array.isArray(n.libraries)) return null;
  const libs = n.libraries.slice(0, 8);
  const max = Math.max(1, ...libs.map((x) => (isNum(x.bytes_per_request) ? x.bytes_per_request : 0)));
  const bar = (v) => el('span', { class: 'bar', style: `display:inline-block;height:0.8em;width:${Math.round(120 * (isNum(v) ? v : 0) / max)}px;background:${a.color}` });
  const pct = (v) => (isNum(v) ? Math.round(100 * v) + ' %' : '—');
  const libRows = libs.map((x) => [el('code', null, x.object || '?'), bar(x.bytes_per_request), fmtBytesSig(x.bytes_per_request),
    fmtCI(x.ci, fmtBytesSig), pct(x.share), x.state || '—']);
  const siteRows = (n.sites || []).slice(0, 10).map((x) => [el('code', null, `${x.object || '?'} (${x.symbol || 'no symbol'})`),
    x.python ? el('code', null, x.python) : '—', Array.isArray(x.chain) && x.chain.length > 1 ? x.chain.join(' → ') : '—',
    fmtBytesSig(x.bytes_per_request), fmtCI(x.ci, fmtBytesSig), x.state || '—']);
  return el('div', { class: 'where-native' },
    el('h4', null, `native (sampled every ${fmtBytes(n.sample_bytes)}): ${fmtBytesSig(n.bytes_per_request)}/request of malloc made after warm-up survive`),
    libRows.length ? table(['library', '', 'bytes / request', 'CI', 'share', 'state'], libRows) : el('p', { class: 'muted' }, 'no native allocation made after warm-up survives'),
    siteRows.length ? table(['site (library, function)', 'called from', 'through', 'bytes / request', 'CI', 'state'], siteRows) : null);
}

function whereSection() {
  const arms = ARMS.map((a) => [a, summaryArm(a.name).where])
    .filter(([, w]) => w && (Array.isArray(w.sites) || (w.native && Array.isArray(w.native.libraries))));
  if (!arms.length) return null;
  return section('where', 'Where: allocation sites of what survives', ...arms.map(([a, w]) => whereArm(a, w)),
    el('p', { class: 'note' }, 'Bytes allocated after warm-up and still live at the end, per request after warm-up; '
      + 'growing: what survives of the first half is at least half of what survives of the second; bounded: less, and the sample counts say so.'));
}

function genericTable(list) {
  const keys = [...new Set(list.flatMap((o) => (o && typeof o === 'object' ? Object.keys(o) : [])))];
  return table(keys, list.map((o) => keys.map((k) => renderValue(o ? o[k] : null))));
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
    /* Under the figure's minimum effect a difference is negligible, whatever its p. */
    const verdict = sig ? el('b', null, 'yes')
      : el('span', { class: 'muted' }, f.negligible === true ? 'negligible' : 'no');
    /* An arm's own figure (latency p99: one histogram of all its ok reps) differs from the mean of its reps' values. */
    const ownLabel = 'control_pooled' in f || 'arm_pooled' in f ? label + ' (mean of reps)' : label;
    return [ownLabel, fmt(f.control_mean), fmt(f.arm_mean), mark(signed(f.diff, fmt)), mark(ci),
      isNum(f.p) ? fmtSig(f.p) : '—', isNum(f.min_effect) ? fmt(f.min_effect) : '—', verdict];
  });
  const reps = Array.isArray(c.reps) ? ` (${c.reps[0]} vs ${c.reps[1]} ok reps)` : '';
  const own = Object.entries(figs).filter(([, f]) => f && ('control_pooled' in f || 'arm_pooled' in f)).map(([name, f]) => {
    const [label, fmt] = figureFormat(name);
    return el('p', { class: 'note' }, `arm ${label} (all ok reps' requests in one histogram, as in the Arms table): `
      + `control ${fmt(f.control_pooled)}, arm ${fmt(f.arm_pooled)}; the row above compares the means of the reps' own values.`);
  });
  return el('div', null,
    el('h3', null, `${c.arm} vs ${c.control}${reps}`),
    typeof c.interpreter_note === 'string' ? el('p', { class: 'warnline' }, c.interpreter_note) : null,
    rows.length ? table(['figure', 'control', 'arm', 'difference', 'CI', 'p', 'min effect', 'significant'], rows)
      : el('p', { class: 'muted' }, 'no figures to compare'),
    own,
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
      /* The history keeps slopes pooled over reps, the arm's p99 from its merged histogram, and
       * other figures as the median of the reps' values. */
      const label = /_slope$/.test(metric) ? metric
        : metric === 'latency_p99_ms' ? `${metric} (merged reps)` : `${metric} (median of reps)`;
      trend.push([arm, label, el('code', null, spark(vals)), fmtNum(vals[vals.length - 1]),
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
      const [outcome, reason] = repState(r, s);
      rows.push([a.name, String(r.rep), verdictBadge(outcome) || '?', reason,
        fmtNum(s.requests), fmtNum(s.errors), fmtNum(s.duration_s), fmtNum(s.throughput_rps),
        fmtMs(s.latency_ms && s.latency_ms.p99), fmtBytes(s.peak_rss_bytes), fmtNum(r.samples),
        r.gc ? fmtNum(r.gc.n) : '—']);
    }
  }
  return section('reps', 'Reps', table(['arm', 'rep', 'outcome', 'reason', 'requests', 'errors', 'duration (s)',
    'req/s', 'p99 (this rep)', 'peak RSS', 'samples', 'GC collections'], rows));
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
      swatch(a), a.name);
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

function main() {
  const t0 = performance.now();
  const app = document.getElementById('app');
  if (PNG) document.body.classList.add('png');
  if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
  const { sec, grid } = chartsSection();
  const nopng = (node) => { if (node) node.classList.add('nopng'); return node; };
  const parts = [header(), nopng(verdicts()), nopng(armTable()), nopng(interpreters()), sec, nopng(whereSection()), nopng(comparisons()), nopng(ablation()),
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
