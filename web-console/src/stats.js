// Statistics from GET /api/v1/stats (the last 24 h): incidents per hour and
// line (stacked bars), per line and per district, and the response-interval
// percentiles against their targets. Plain SVG: no chart library to load.
import { $, el, LINES, LINE_COLOURS } from './ctx.js';
import { t, label } from './i18n.js';
import { get, errorText } from './api.js';

const NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
const tip = (text) => svg('title', {}, text);

let last = null;

export async function loadStats() {
  const r = await get('/api/v1/stats');
  if (!r.ok) { $('stats-range').textContent = errorText(r); return; }
  last = r.body;
  renderStats();
}

export function renderStats() {
  if (!last) return;
  const s = last;
  const lang = document.documentElement.lang;
  $('stats-range').textContent = `${new Date(s.since).toLocaleString(lang)} – ${new Date(s.until).toLocaleString(lang)}`;
  $('chart-hours').replaceChildren(hoursChart(hourSlots(s)));
  $('chart-intervals').replaceChildren(intervalsChart(s.intervals || {}));
  $('chart-lines').replaceChildren(barList(LINES.map((l) => ({ key: l, name: label('line', l), n: (s.by_line || {})[l] || 0, colour: LINE_COLOURS[l] }))));
  $('chart-districts').replaceChildren(barList((s.by_district || []).map((d) => ({ key: d.code || '-', name: d.name || t('none_district'), n: d.count, colour: '#5b7a99' }))));
}

// Every hour of the range, the quiet ones too (the API lists hours with reports).
function hourSlots(s) {
  const have = new Map((s.by_hour || []).map((h) => [Date.parse(h.hour), h]));
  const out = [];
  const until = Date.parse(s.until);
  for (let at = Math.floor(Date.parse(s.since) / 3600000) * 3600000; at <= until; at += 3600000) {
    out.push(have.get(at) || { hour: new Date(at).toISOString(), by_line: {} });
  }
  if (out.length > 24 * 31) return s.by_hour || [];
  return out;
}

function hoursChart(hours) {
  const W = 560, H = 220, L = 32, B = 28, T = 8;
  const max = Math.max(1, ...hours.map((h) => Object.values(h.by_line).reduce((a, b) => a + b, 0)));
  const bw = hours.length ? Math.min(28, (W - L - 8) / hours.length) : 0; // bar pitch
  const y = (v) => H - B - (v / max) * (H - B - T);
  const out = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'svg-chart', id: 'svg-hours', role: 'img', 'data-bars': hours.length });
  for (const g of [0, Math.ceil(max / 2), max]) {
    out.append(svg('line', { x1: L, x2: W, y1: y(g), y2: y(g), class: 'grid' }), svg('text', { x: L - 4, y: y(g) + 4, 'text-anchor': 'end', class: 'axis' }, g));
  }
  hours.forEach((h, i) => {
    let acc = 0;
    const x = L + 4 + i * bw;
    for (const l of LINES) {
      const n = h.by_line[l] || 0;
      if (!n) continue;
      out.append(svg('rect', { x, width: Math.max(1, bw - 3), y: y(acc + n), height: y(acc) - y(acc + n), fill: LINE_COLOURS[l], 'data-line': l, 'data-n': n },
        tip(`${new Date(h.hour).getHours()}:00 ${label('line', l)}: ${n}`)));
      acc += n;
    }
    if (i % Math.ceil(hours.length / 12 || 1) === 0 || i === hours.length - 1) {
      out.append(svg('text', { x: x + bw / 2, y: H - 10, 'text-anchor': 'middle', class: 'axis' }, t('hour_label', { h: new Date(h.hour).getHours() })));
    }
  });
  if (!hours.length) out.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, t('no_data')));
  const legend = el('div', { class: 'legend' }, LINES.map((l) => el('span', { class: `sw line-${l}`, text: label('line', l) })));
  return el('div', {}, out, legend);
}

function intervalsChart(iv) {
  const names = ['acknowledge', 'dispatch', 'ambulance_out', 'on_scene'];
  const W = 560, row = 50, H = names.length * row + 10, L = 90;
  // Each row on its own scale (p95 or the target, whichever is longer): a 15 s target
  // and a 15 min one side by side would leave the short bars invisible.
  let max = 1;
  const x = (v) => L + (v / max) * (W - L - 10);
  const out = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'svg-chart', id: 'svg-intervals', role: 'img' });
  names.forEach((n, i) => {
    const v = iv[n];
    const top = 6 + i * row;
    out.append(svg('text', { x: L - 6, y: top + 20, 'text-anchor': 'end', class: 'axis' }, t(`iv_${n}`)));
    if (!v || !v.n) {
      out.append(svg('text', { x: L, y: top + 20, class: 'axis' }, `${t('no_data')} (n=0)`));
      return;
    }
    max = Math.max(1, v.p95_s, v.target_s) * 1.15;
    const cls = v.met ? 'met' : 'missed';
    [['p95_s', 0.35], ['p90_s', 0.6], ['p50_s', 1]].forEach(([p, op]) => {
      out.append(svg('rect', { x: L, y: top + 6, height: 20, width: Math.max(1, x(v[p]) - L), class: `iv ${cls}`, 'fill-opacity': op, 'data-interval': n, 'data-p': p },
        tip(`${p.replace('_s', '')}: ${v[p]} s`)));
    });
    out.append(svg('line', { x1: x(v.target_s), x2: x(v.target_s), y1: top + 2, y2: top + 30, class: 'target' },
      tip(`${t('target')} ${v.target_s} s / ${v.target_pct}%`)));
    out.append(svg('text', { x: L, y: top + 42, class: 'axis small' },
      svg('tspan', { class: cls }, `${v.met ? t('met') : t('not_met')} · n=${v.n}`),
      ` · p50 ${v.p50_s} / p90 ${v.p90_s} / p95 ${v.p95_s} s · ${t('target')} ${v.target_s} s ${v.target_pct}% · ${t('within', { p: v.within_target_pct })}`));
  });
  return out;
}

function barList(items) {
  const max = Math.max(1, ...items.map((i) => i.n));
  if (!items.length) return el('p', { class: 'muted', text: t('no_data') });
  return el('ul', { class: 'bars' }, items.map((i) => el('li', { 'data-key': i.key, 'data-n': String(i.n) },
    el('span', { class: 'bar-name', text: i.name }),
    el('span', { class: 'bar-track' }, fill(i, max)),
    el('span', { class: 'bar-n', text: String(i.n) }))));
}

// The CSP allows styles set through the CSSOM (never a style attribute in markup).
function fill(i, max) {
  const f = el('span', { class: `bar-fill bar-${i.key}` });
  f.style.width = `${Math.round((i.n / max) * 100)}%`;
  f.style.background = i.colour;
  return f;
}
