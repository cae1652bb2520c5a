// Liandong console: sign-in, views by role, the live connection always in
// sight, a visible and audible cue for new and escalated incidents, keyboard
// shortcuts for the common actions.
import './style.css';
import { store, connect, subscribe, refreshUnits } from './live.js';
import { ctx, $, el, LINES, OPEN_STATUSES } from './ctx.js';
import { t, label, applyStatic, setLang, getLang, onLangChange } from './i18n.js';
import { get } from './api.js';
import { initQueue, renderQueue, moveSelection, markFresh, fillFilters } from './queue.js';
import { LiveMap } from './map.js';
import { initDetail, showIncident, closeDetail, renderDetail, advanceStatus, assignFirst, editDescription, focusNote, current } from './detail.js';
import { renderUnits } from './units.js';
import { pushAlert, renderAlerts, renderFeed, unread } from './alerts.js';
import { loadStats, renderStats } from './stats.js';
import { renderLeader, leaderMap } from './leader.js';
import { setupConferencePanel } from './conference-panel.js';

const VIEWS_BY_ROLE = {
  dispatcher: ['desk', 'units', 'alerts', 'stats'],
  supervisor: ['desk', 'units', 'alerts', 'stats', 'leader'],
  leader: ['leader', 'desk', 'alerts', 'stats'],
  admin: ['desk', 'units', 'alerts', 'stats', 'leader'],
  open: ['desk', 'units', 'alerts', 'stats', 'leader'],
};

let deskMap = null;
let muted = (() => { try { return localStorage.getItem('liandong.muted') === '1'; } catch { return false; } })();
let audio = null;

// --- cues -------------------------------------------------------------------------

function beep(kind) {
  const cue = $('cue');
  if (muted) { cue.dataset.sound = 'muted'; return; }
  if (!audio || audio.state !== 'running') { cue.dataset.sound = 'blocked'; return; }
  // New: one short tone; escalated: two higher ones.
  const tones = kind === 'escalated' ? [[1046, 0], [1046, 0.22]] : [[784, 0]];
  for (const [f, at] of tones) {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, audio.currentTime + at);
    g.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + at + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + at + 0.18);
    o.connect(g).connect(audio.destination);
    o.start(audio.currentTime + at);
    o.stop(audio.currentTime + at + 0.2);
  }
  cue.dataset.sound = 'played';
  cue.dataset.sounds = String(Number(cue.dataset.sounds || 0) + 1);
}

// Browsers allow sound only after the user touched the page once.
function unlockAudio() {
  if (!audio) {
    const A = window.AudioContext || window.webkitAudioContext;
    if (A) audio = new A();
  }
  if (audio && audio.state === 'suspended') audio.resume();
  if (audio && !audio.onstatechange) audio.onstatechange = () => renderHeader();
  renderHeader();
}
window.addEventListener('pointerdown', unlockAudio, { capture: true });
window.addEventListener('keydown', unlockAudio, { capture: true });

let cueTimer = null;
function cue(kind, text, id) {
  const box = $('cue');
  box.hidden = false;
  box.className = `cue cue-${kind}`;
  box.dataset.kind = kind;
  box.dataset.count = String(Number(box.dataset.count) + 1);
  box.dataset.id = id ? String(id) : '';
  box.replaceChildren(el('a', { href: '#', text, onclick: (e) => { e.preventDefault(); if (id) select(id); box.hidden = true; } }));
  beep(kind);
  clearTimeout(cueTimer);
  cueTimer = setTimeout(() => { box.hidden = true; }, kind === 'escalated' ? 30000 : 10000);
}

// --- rendering ----------------------------------------------------------------------

const CONN_TEXT = { connecting: 'conn_connecting', live: 'conn_live', catchup: 'conn_catchup', snapshot: 'conn_snapshot',
  down: 'conn_down', offline: 'conn_offline', resync: 'conn_resync' };

function renderHeader() {
  const conn = $('conn');
  conn.className = `conn conn-${store.conn}`;
  conn.dataset.state = store.conn;
  conn.textContent = t(CONN_TEXT[store.conn]);
  if (store.downSince) {
    conn.textContent += ` · ${t('since', { time: store.downSince.toLocaleTimeString(getLang()) })}`;
  }
  document.body.dataset.conn = store.conn;
  $('seq').textContent = `seq ${store.seq}`;
  const open = [...store.incidents.values()].filter((i) => OPEN_STATUSES.includes(i.status));
  $('counts').replaceChildren(...LINES.slice(0, 4).map((l) => el('span', { class: `count line-${l}`, 'data-line': l,
    title: label('line', l), text: `${l} ${open.filter((i) => i.line === l).length}` })));
  const n = unread();
  $('alert-count').hidden = n === 0;
  $('alert-count').textContent = String(n);
  // Say when the browser has not allowed sound yet (it needs one click or key first).
  const blocked = !muted && (!audio || audio.state !== 'running');
  $('mute').textContent = muted ? t('sound_off') : blocked ? t('sound_blocked') : t('sound_on');
  $('mute').classList.toggle('off', muted || blocked);
  $('mute').dataset.state = muted ? 'off' : blocked ? 'blocked' : 'on';
}

let frame = 0;
function render() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    renderHeader();
    if (ctx.view === 'desk') {
      renderQueue();
      if (deskMap) deskMap.update();
    }
    if (ctx.view === 'units') renderUnits(select);
    if (ctx.view === 'alerts') { renderAlerts(select, render); renderFeed(); }
    if (ctx.view === 'leader') renderLeader(select);
  });
}

function showView(view) {
  const allowed = VIEWS_BY_ROLE[ctx.role] || VIEWS_BY_ROLE.open;
  if (!allowed.includes(view)) return;
  ctx.view = view;
  for (const b of document.querySelectorAll('#views button')) b.classList.toggle('active', b.dataset.view === view);
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${view}`;
  document.body.dataset.view = view;
  if (view === 'desk' && !deskMap) {
    deskMap = new LiveMap($('map'), { onSelect: select, coordsEl: $('map-coords') });
  }
  if (view === 'desk') deskMap.resize();
  if (view === 'stats') loadStats();
  if (view === 'leader') requestAnimationFrame(() => { const m = leaderMap(); if (m) m.resize(); });
  render();
}

function select(id) {
  if (ctx.view !== 'desk' && (VIEWS_BY_ROLE[ctx.role] || []).includes('desk')) showView('desk');
  showIncident(id);
  if (deskMap) deskMap.focus(store.incidents.get(id));
}

// --- live events ------------------------------------------------------------------

subscribe((w) => {
  if (w.type === 'event') {
    const f = w.event;
    const inc = f.incident;
    if (f.kind === 'incident.created' && inc) {
      markFresh(inc.id, 'new');
      cue('new', t('cue_new', { id: inc.id, title: inc.title }), inc.id);
    } else if (f.kind === 'incident.escalated' && inc) {
      markFresh(inc.id, 'escalated');
      const text = t('cue_escalated', { id: inc.id, title: inc.title });
      pushAlert({ seq: f.seq, ts: f.ts, kind: f.kind, text, id: inc.id });
      cue('escalated', text, inc.id);
    } else if (f.kind === 'task.overdue' && inc) {
      const late = (inc.tasks || []).filter((k) => k.state === 'overdue').map((k) => label('ag', k.agency)).join('、');
      pushAlert({ seq: f.seq, ts: f.ts, kind: f.kind, text: t('cue_overdue', { id: inc.id, agency: late }), id: inc.id });
    } else if (f.kind === 'unit.flagged' && f.unit) {
      pushAlert({ seq: f.seq, ts: f.ts, kind: f.kind, text: t('cue_flagged', { unit: f.unit.id }), id: f.unit.incident_id });
    } else if (inc) {
      markFresh(inc.id, 'changed');
    }
  }
  if (w.type === 'welcome' && w.mode === 'resume') refreshUnits();
  if (w.type === 'error') $('log').textContent = t('err', { code: w.code, detail: w.message });
  render();
});

// --- keyboard -----------------------------------------------------------------------

const VIEW_KEYS = { 1: 'desk', 2: 'units', 3: 'alerts', 4: 'stats', 5: 'leader' };
document.addEventListener('keydown', (e) => {
  if ($('main').hidden || e.ctrlKey || e.metaKey || e.altKey) return;
  const tag = e.target.tagName;
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
    if (e.key === 'Escape') e.target.blur();
    return;
  }
  const k = e.key;
  if (VIEW_KEYS[k]) { showView(VIEW_KEYS[k]); e.preventDefault(); return; }
  if (k === '?') { $('help').hidden = !$('help').hidden; return; }
  if (k === 'Escape') { $('help').hidden = true; $('cue').hidden = true; closeDetail(); return; }
  if (k === 'm' || k === 'M') { toggleMute(); return; }
  if (ctx.view !== 'desk') return;
  if (k === 'j' || k === 'ArrowDown') { moveSelection(1); e.preventDefault(); }
  else if (k === 'k' || k === 'ArrowUp') { moveSelection(-1); e.preventDefault(); }
  else if (k === 'Enter') { if (!ctx.selected) moveSelection(1); else if (current()) showIncident(ctx.selected); }
  else if (k === 's' || k === 'S') advanceStatus();
  else if (k === 'a' || k === 'A') assignFirst();
  else if (k === 'e' || k === 'E') { editDescription(); e.preventDefault(); }
  else if (k === 'n' || k === 'N') { focusNote(); e.preventDefault(); }
  else if (k === 'f' || k === 'F') { $('filter-line').focus(); e.preventDefault(); }
});

function toggleMute() {
  if (!muted && (!audio || audio.state !== 'running')) { unlockAudio(); return; } // the click enables sound
  muted = !muted;
  try { localStorage.setItem('liandong.muted', muted ? '1' : '0'); } catch { /* private mode */ }
  renderHeader();
}

// --- start ------------------------------------------------------------------------

async function loadDistricts() {
  const r = await get('/api/v1/gis/jurisdictions');
  if (!r.ok) return;
  ctx.districtsGeo = r.body;
  ctx.districts = r.body.features.map((f) => ({ code: f.properties.code, name: f.properties.name }));
  fillFilters();
  if (deskMap) deskMap.setDistricts(r.body);
  const lm = leaderMap();
  if (lm) lm.setDistricts(r.body);
}

async function start() {
  const res = await get('/api/v1/session');
  if (res.status === 401) {
    $('sign-in').hidden = false;
    $('main').hidden = true;
    $('sign-in-name').focus();
    return;
  }
  if (res.ok) {
    ctx.user = res.body.user;
    ctx.role = ctx.user.role;
    $('who-name').textContent = `${ctx.user.display}（${label('role', ctx.user.role)}${ctx.user.agency ? ' ' + ctx.user.agency : ''}）`;
    $('who').hidden = false;
  }
  document.body.dataset.role = ctx.role;
  ctx.canAct = ['dispatcher', 'supervisor', 'open'].includes(ctx.role);
  const conf = await get('/api/v1/console');
  if (conf.ok) { ctx.tileUrl = conf.body.tile_url; ctx.media = conf.body.media; }
  $('sign-in').hidden = true;
  $('main').hidden = false;
  const allowed = VIEWS_BY_ROLE[ctx.role] || VIEWS_BY_ROLE.open;
  for (const b of document.querySelectorAll('#views button')) b.hidden = !allowed.includes(b.dataset.view);
  $('views').hidden = false;
  showView(allowed[0]);
  await loadDistricts();
  connect();
  if (ctx.media && allowed.includes('leader')) setupConferencePanel(ctx);
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/api/v1/session', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: $('sign-in-name').value, password: $('sign-in-password').value }),
  });
  $('sign-in-password').value = '';
  if (r.ok) { $('sign-in-msg').textContent = ''; start(); return; }
  const body = await r.json().catch(() => ({}));
  $('sign-in-msg').textContent = r.status === 429
    ? t('too_many_tries', { s: r.headers.get('retry-after') })
    : (body.error && body.error.code === 'bad_credentials' ? t('bad_credentials') : t('sign_in_failed'));
});

$('sign-out').addEventListener('click', async () => {
  await fetch('/api/v1/session', { method: 'DELETE' });
  location.reload();
});
for (const b of document.querySelectorAll('#views button')) b.addEventListener('click', () => showView(b.dataset.view));
$('lang').addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
$('mute').addEventListener('click', toggleMute);
$('stats-refresh').addEventListener('click', loadStats);
$('crs').addEventListener('change', () => {
  ctx.crs = $('crs').value;
  try { localStorage.setItem('liandong.crs', ctx.crs); } catch { /* private mode */ }
  renderDetail();
  if (deskMap) deskMap.refreshPicked();
});
onLangChange(() => {
  if (ctx.user) $('who-name').textContent = `${ctx.user.display}（${label('role', ctx.user.role)}${ctx.user.agency ? ' ' + ctx.user.agency : ''}）`;
  fillFilters();
  renderDetail();
  renderStats();
  renderHeader();
  render();
});

try { ctx.crs = localStorage.getItem('liandong.crs') || 'wgs84'; } catch { /* private mode */ }
document.documentElement.lang = getLang();
applyStatic();
$('crs').value = ctx.crs;
initQueue(select);
initDetail(render);
renderHeader();
setInterval(render, 15000); // keep the ages current
setInterval(() => { if (ctx.view === 'stats') loadStats(); }, 60000);
start();
