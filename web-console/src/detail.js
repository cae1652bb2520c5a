// Incident detail: fields, status moves, the linkage plan's tasks per agency,
// linked and duplicate incidents (merge, link), assigned and recommended
// units (one-click assignment), the timeline from the journal, and who else
// has it open. Every change carries the version the dispatcher saw (If-Match):
// when someone else changed the incident first, the 412 answer's current state
// is shown with what changed, never a silent overwrite or a silent failure.
import { store, send, subscribe } from './live.js';
import { ctx, $, el, MOVES, FORWARD } from './ctx.js';
import { t, label } from './i18n.js';
import { get, post, patch, errorText } from './api.js';
import { formatCoords } from './coords.js';

let selectedCache = null; // the last known copy of the selected incident (it may have left the store)
let editing = null; // {base: incident} while the description is being edited
let conflict = null; // {current, actor, what} after a 412
let message = '';
let history = [];
let recs = { kind: null, units: [], loading: false };
let onChanged = () => {};

export function initDetail(changed) {
  onChanged = changed;
  subscribe((w) => {
    if (w.type === 'event' && w.event.incident && w.event.incident.id === ctx.selected) {
      selectedCache = w.event.incident;
      loadHistory();
      loadRecommendations();
      renderDetail();
    } else if (w.type === 'presence' && w.incident === ctx.selected) {
      renderPresence();
    } else if (w.type === 'snapshot' && ctx.selected && store.incidents.has(ctx.selected)) {
      selectedCache = store.incidents.get(ctx.selected);
      renderDetail();
    }
  });
}

export function current() {
  return (ctx.selected && store.incidents.get(ctx.selected)) || selectedCache;
}

export async function showIncident(id) {
  if (ctx.selected && ctx.selected !== id) send({ type: 'presence', incident: ctx.selected, state: 'left' });
  if (ctx.selected !== id) { editing = null; conflict = null; message = ''; history = []; recs = { kind: null, units: [] }; }
  ctx.selected = id;
  selectedCache = store.incidents.get(id) || null;
  if (!selectedCache) {
    const r = await get(`/api/v1/incidents/${id}`);
    if (r.ok) selectedCache = r.body;
  }
  send({ type: 'presence', incident: id, state: 'viewing' });
  renderDetail();
  onChanged();
  loadHistory();
  loadRecommendations();
}

export function closeDetail() {
  if (ctx.selected) send({ type: 'presence', incident: ctx.selected, state: 'left' });
  ctx.selected = null;
  selectedCache = null;
  editing = null;
  conflict = null;
  renderDetail();
  onChanged();
}

async function loadHistory() {
  const id = ctx.selected;
  if (!id) return;
  const r = await get(`/api/v1/incidents/${id}/history`);
  if (r.ok && id === ctx.selected) {
    history = r.body.events;
    renderTimeline();
    renderNotes();
  }
}

// The kinds the incident's tasks ask for (those this user may fill first).
function wantedKinds(inc) {
  const tasks = (inc.tasks || []).filter((tk) => ctx.role !== 'dispatcher' || tk.agency === ctx.user.agency);
  const kinds = [...new Set(tasks.map((tk) => tk.kind))];
  if (!kinds.length) {
    const fallback = { 110: 'patrol', 119: 'fire_engine', 120: 'ambulance', 122: 'traffic_police' }[inc.line];
    if (fallback) kinds.push(fallback);
  }
  return kinds;
}

async function loadRecommendations() {
  const inc = current();
  if (!inc || inc.lon == null || !ctx.canAct) return;
  const kinds = wantedKinds(inc);
  const kind = kinds.includes(recs.kind) ? recs.kind : kinds[0];
  if (!kind) return;
  const id = inc.id;
  const r = await get(`/api/v1/incidents/${id}/recommendations?kind=${encodeURIComponent(kind)}&limit=3`);
  if (id !== ctx.selected) return;
  recs = { kind, kinds, units: r.ok ? r.body.units : [], error: r.ok ? null : errorText(r) };
  renderRecommendations();
}

function say(text) {
  message = text;
  const m = $('detail-msg');
  if (m) m.textContent = text;
}

// What differs between the copy the dispatcher worked on and the current one.
function differences(mine, cur) {
  const out = [];
  const simple = ['status', 'priority', 'title', 'description', 'address', 'alarm_level', 'category', 'type'];
  for (const f of simple) {
    if (JSON.stringify(mine[f]) !== JSON.stringify(cur[f])) {
      const show = (v) => (f === 'status' ? label('st', v) : v == null ? '—' : String(v));
      out.push(`${t('f_' + (f === 'alarm_level' ? 'alarm' : f))}: ${show(mine[f])} → ${show(cur[f])}`);
    }
  }
  const ids = (x) => (x.units || []).map((u) => u.id).sort().join(',');
  if (ids(mine) !== ids(cur)) out.push(`${t('units_assigned')}: ${ids(mine) || '—'} → ${ids(cur) || '—'}`);
  const tk = (x) => (x.tasks || []).map((k) => `${k.agency}:${k.state}`).sort().join(',');
  if (tk(mine) !== tk(cur)) out.push(`${t('tasks')}: ${tk(cur)}`);
  return out;
}

// A command answered 412: show the other dispatcher's change, take the current state.
async function staleEdit(mine, r) {
  const cur = r.body && r.body.current;
  if (!cur) { say(errorText(r)); return; }
  const h = await get(`/api/v1/incidents/${cur.id}/history`);
  const last = h.ok ? h.body.events.filter((e) => e.incident && e.incident.version === cur.version).pop() : null;
  const what = differences(mine, cur);
  conflict = { current: cur, actor: last ? last.actor : '?', what: what.length ? what.join('；') : t('nothing_changed'),
    version: cur.version };
  selectedCache = cur;
  if (cur.id === ctx.selected && store.incidents.has(cur.id) && store.incidents.get(cur.id).version < cur.version) {
    store.incidents.set(cur.id, cur);
  }
  if (h.ok) history = h.body.events;
  renderDetail();
}

async function command(inc, fn) {
  say('');
  conflict = null;
  const r = await fn();
  if (r.status === 412) { await staleEdit(inc, r); return r; }
  if (!r.ok) say(t('err', { code: r.body?.error?.code || r.status, detail: r.body?.error?.detail || r.body?.error?.message || '' }));
  return r;
}

export function advanceStatus() {
  const inc = current();
  if (!inc || !ctx.canAct || !FORWARD[inc.status]) return;
  setStatus(inc, FORWARD[inc.status]);
}

function setStatus(inc, status) {
  return command(inc, () => patch(`/api/v1/incidents/${inc.id}`, { status }, inc.version));
}

export function assignFirst() {
  const inc = current();
  if (!inc || !ctx.canAct || !recs.units.length) return;
  assign(inc, recs.units[0].unit);
}

async function assign(inc, unit) {
  const linkAgency = ctx.role !== 'dispatcher';
  const r = await command(inc, () => post(`/api/v1/incidents/${inc.id}/assign`, { units: [unit], link_agency: linkAgency }, inc.version));
  if (r.ok) loadRecommendations();
}

export function editDescription() {
  const inc = current();
  if (!inc || !ctx.canAct) return;
  editing = { base: inc };
  conflict = null;
  send({ type: 'presence', incident: inc.id, state: 'editing' });
  renderDetail();
  const ta = $('detail-edit-text');
  if (ta) ta.focus();
}

async function saveDescription() {
  const base = editing.base;
  const text = $('detail-edit-text').value;
  const r = await command(base, () => patch(`/api/v1/incidents/${base.id}`, { description: text }, base.version));
  if (r.ok) {
    editing = null;
    send({ type: 'presence', incident: base.id, state: 'viewing' });
    renderDetail();
  } else if (r.status === 412) {
    // Keep the text: the dispatcher decides again on top of the current version.
    editing = { base: conflict.current, text };
    renderDetail();
  }
}

function field(k, v, attrs = {}) {
  return [el('dt', { text: t(k) }), el('dd', { ...attrs, text: v ?? '' })];
}

function timeText(iso) { return iso ? new Date(iso).toLocaleString(document.documentElement.lang) : ''; }

export function renderDetail() {
  const inc = current();
  $('detail-empty').hidden = !!inc;
  const body = $('detail-body');
  body.hidden = !inc;
  if (!inc) { body.replaceChildren(); return; }
  body.dataset.id = String(inc.id);
  body.dataset.version = String(inc.version);
  body.dataset.status = inc.status;

  const coords = el('dd', { id: 'detail-coords', 'data-crs': ctx.crs });
  formatCoords(inc.lon, inc.lat).then((s) => { coords.textContent = s; coords.dataset.crs = ctx.crs; });

  const head = el('h2', { id: 'detail-title' },
    el('span', { class: `prio prio-${inc.priority}`, text: `P${inc.priority}` }), ' ',
    `#${inc.id} ${inc.title}`, ' ',
    el('span', { class: `st st-${inc.status}`, id: 'detail-status', text: label('st', inc.status) }));

  const fields = el('dl', { id: 'detail-fields' },
    field('f_line', label('line', inc.line)),
    field('f_category', `${label('cat', inc.category)}${inc.type ? ' · ' + inc.type : ''}`),
    field('f_address', inc.address),
    field('f_district', inc.district ? inc.district.name : ''),
    el('dt', { text: t('f_coords') }), coords,
    field('f_reported', timeText(inc.reported_at)),
    field('f_source', `${inc.source || ''} ${inc.ext_ref || ''}`),
    field('f_alarm', inc.alarm_level ? `${inc.alarm_level}${inc.plan ? ' · ' + inc.plan : ''}` : '—'),
    inc.ack_due_at ? field('f_due', timeText(inc.ack_due_at)) : [],
    inc.escalated_at ? field('f_escalated', timeText(inc.escalated_at), { class: 'warn' }) : [],
    field('f_version', String(inc.version), { id: 'detail-version' }),
    field('f_description', inc.description, { id: 'detail-description' }));

  const actions = el('div', { id: 'detail-actions', class: 'actions' });
  if (ctx.canAct) {
    for (const s of MOVES[inc.status] || []) {
      actions.append(el('button', { type: 'button', class: s === FORWARD[inc.status] ? 'primary' : '',
        'data-status': s, text: `→ ${label('st', s)}`, onclick: () => setStatus(inc, s) }));
    }
    if (inc.plan && inc.alarm_level) {
      actions.append(el('button', { type: 'button', id: 'raise-alarm', text: t('raise_alarm', { n: inc.alarm_level + 1 }),
        onclick: () => command(inc, () => post(`/api/v1/incidents/${inc.id}/alarm`, { level: inc.alarm_level + 1 }, inc.version)) }));
    }
    if (!editing) actions.append(el('button', { type: 'button', id: 'edit-description', text: t('edit_description'), onclick: editDescription }));
  } else {
    actions.append(el('p', { class: 'muted', text: t('read_only') }));
  }

  let editor = null;
  if (editing) {
    const newer = inc.version !== editing.base.version;
    editor = el('div', { id: 'detail-edit', class: 'editor' },
      el('textarea', { id: 'detail-edit-text', rows: 3 }),
      newer ? el('p', { class: 'warn', id: 'detail-newer', text: t('changed_meanwhile', { v: inc.version }) }) : null,
      el('button', { type: 'button', id: 'detail-save', class: 'primary', text: t('save'), onclick: saveDescription }),
      el('button', { type: 'button', text: t('cancel'), onclick: () => { editing = null; send({ type: 'presence', incident: inc.id, state: 'viewing' }); renderDetail(); } }));
    const prevText = $('detail-edit-text');
    editor.querySelector('textarea').value = prevText ? prevText.value : (editing.text ?? editing.base.description ?? '');
  }

  const conflictBox = conflict
    ? el('div', { id: 'detail-conflict', class: 'conflict', role: 'alert', 'data-version': String(conflict.version) },
      t('conflict', { v: conflict.version, actor: conflict.actor, what: conflict.what }))
    : null;

  const tasks = el('table', { id: 'detail-tasks', class: 'mini' },
    el('thead', {}, el('tr', {}, ['task_agency', 'task_need', 'task_state', 'task_due', ''].map((k) => el('th', { text: k ? t(k) : '' })))),
    el('tbody', {}, (inc.tasks || []).map((tk) => el('tr', { 'data-agency': tk.agency, 'data-state': tk.state, class: `task-${tk.state}` },
      el('td', { text: label('ag', tk.agency) }),
      el('td', { text: `${label('kind', tk.kind)} ×${tk.count}` }),
      el('td', { text: label('tst', tk.state) }),
      el('td', { text: tk.due_at && tk.state !== 'acknowledged' ? new Date(tk.due_at).toLocaleTimeString(document.documentElement.lang) : '' }),
      el('td', {}, ctx.canAct && tk.state !== 'acknowledged' && (ctx.role !== 'dispatcher' || ctx.user.agency === tk.agency)
        ? el('button', { type: 'button', class: 'small', text: t('task_ack'),
          onclick: () => command(inc, () => post(`/api/v1/incidents/${inc.id}/tasks/${encodeURIComponent(tk.agency)}/ack`)) })
        : null)))));

  const links = el('ul', { id: 'detail-links', class: 'links' }, (inc.links || []).map((l) => el('li', { 'data-incident': String(l.incident), 'data-kind': l.kind },
    el('a', { href: '#', text: `#${l.incident}`, onclick: (e) => { e.preventDefault(); showIncident(l.incident); } }),
    ` ${label('lr', l.role || l.kind)}${l.distance_m != null ? ` · ${Math.round(l.distance_m)} m` : ''}${l.gap_s != null ? ` · ${l.gap_s} s` : ''} `,
    ctx.canAct && l.kind === 'duplicate_suspect' ? [
      el('button', { type: 'button', class: 'small', 'data-act': 'merge', text: `${t('link_merge').replace('此', '')} #${l.incident}`,
        onclick: () => command(inc, () => post(`/api/v1/incidents/${inc.id}/links`, { incident: l.incident, kind: 'merge' }, inc.version)) }),
      el('button', { type: 'button', class: 'small', 'data-act': 'related', text: t('link_related'),
        onclick: () => command(inc, () => post(`/api/v1/incidents/${inc.id}/links`, { incident: l.incident, kind: 'related' }, inc.version)) }),
      el('button', { type: 'button', class: 'small', 'data-act': 'not_duplicate', text: t('link_not_dup'),
        onclick: () => command(inc, () => post(`/api/v1/incidents/${inc.id}/links`, { incident: l.incident, kind: 'not_duplicate' }, inc.version)) }),
    ] : null)));
  let linkForm = null;
  if (ctx.canAct) {
    const target = el('input', { id: 'link-target', type: 'number', min: '1', placeholder: t('link_target'), class: 'num' });
    const kind = el('select', { id: 'link-kind' }, [['related', 'link_related'], ['merge', 'link_merge'], ['parent', 'link_parent'], ['child', 'link_child']]
      .map(([v, k]) => el('option', { value: v, text: t(k) })));
    linkForm = el('div', { class: 'inline' }, target, kind, el('button', { type: 'button', class: 'small', id: 'link-add', text: t('link_add'),
      onclick: () => { const n = Number(target.value); if (n > 0) command(inc, () => post(`/api/v1/incidents/${inc.id}/links`, { incident: n, kind: kind.value }, inc.version)); } }));
  }

  const notes = el('ol', { id: 'detail-notes', class: 'notes' }, history.filter((ev) => ev.kind === 'incident.noted').map((ev) =>
    el('li', { 'data-seq': String(ev.seq) },
      el('span', { class: 'muted', text: `${new Date(ev.ts).toLocaleTimeString(document.documentElement.lang)} ${ev.actor}` }), ' ',
      el('span', { class: 'note-text', text: ev.note ? ev.note.text : '' }))));
  let noteForm = null;
  if (ctx.canAct) {
    const prevNote = $('note-text');
    const box = el('textarea', { id: 'note-text', rows: 2, maxlength: '2000', placeholder: t('note_placeholder') });
    box.value = prevNote ? prevNote.value : '';
    noteForm = el('div', { class: 'editor' }, box,
      el('button', { type: 'button', id: 'note-add', class: 'small', text: t('note_add'), onclick: () => addNote(inc) }));
  }

  const assigned = el('ul', { id: 'detail-units', class: 'chips' }, (inc.units || []).map((u) =>
    el('li', { 'data-unit': u.id, class: `chip ust-${u.status}`, text: `${u.id} · ${label('ust', u.status)}` })));

  // Live updates redraw the panel: whoever is typing keeps their place.
  const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement : null;
  const keep = focused && focused.id ? { id: focused.id, start: focused.selectionStart, end: focused.selectionEnd } : null;
  body.replaceChildren(...[head,
    el('div', { id: 'detail-presence', class: 'muted' }),
    conflictBox, fields, actions, editor,
    el('p', { id: 'detail-msg', role: 'alert', class: 'warn', text: message }),
    el('h3', { text: t('units_assigned') }), assigned,
    ctx.canAct ? el('h3', { text: t('recommend') }) : null,
    ctx.canAct ? el('div', { id: 'detail-recs' }) : null,
    el('h3', { text: t('tasks') }), tasks,
    el('h3', { text: t('links') }), links, linkForm,
    el('h3', { text: t('notes') }), notes, noteForm,
    el('h3', { text: t('timeline') }), el('ol', { id: 'detail-history', class: 'timeline' })].filter(Boolean));
  if (keep) {
    const again = $(keep.id);
    if (again) {
      again.focus();
      if (keep.start != null && again.setSelectionRange) again.setSelectionRange(keep.start, keep.end);
    }
  }
  renderPresence();
  renderRecommendations();
  renderTimeline();
}

function renderPresence() {
  const box = $('detail-presence');
  if (!box) return;
  const others = (store.presence.get(ctx.selected) || []).filter((v) => v.console !== store.consoleId);
  box.textContent = others.length ? t('viewers', { who: others.map((v) => `${v.user}${v.state === 'editing' ? ' ✎' : ''}`).join('、') }) : '';
}

function renderRecommendations() {
  const box = $('detail-recs');
  if (!box) return;
  const inc = current();
  const kinds = recs.kinds || (inc ? wantedKinds(inc) : []);
  const pick = el('select', { id: 'rec-kind', onchange: (e) => { recs.kind = e.target.value; loadRecommendations(); } },
    kinds.map((k) => el('option', { value: k, text: label('kind', k), selected: k === recs.kind })));
  const rows = recs.units.map((u, i) => el('tr', { 'data-unit': u.unit },
    el('td', { text: i === 0 ? `${u.unit} (A)` : u.unit }),
    el('td', { text: label('ag', u.agency) }),
    el('td', { text: `${(u.distance_m / 1000).toFixed(1)} km` }),
    el('td', { text: `${Math.ceil(u.eta_s / 60)} min`, title: u.reason }),
    el('td', {}, el('button', { type: 'button', class: 'small primary', 'data-assign': u.unit, text: t('assign'),
      onclick: () => assign(current(), u.unit) }))));
  box.replaceChildren(el('label', { class: 'inline' }, t('assign_kind'), ' ', pick),
    rows.length ? el('table', { class: 'mini' }, el('tbody', {}, rows))
      : el('p', { class: 'muted', text: recs.error || t('no_recommendation') }));
}

function renderNotes() {
  const ol = $('detail-notes');
  if (!ol) return;
  ol.replaceChildren(...history.filter((ev) => ev.kind === 'incident.noted').map((ev) =>
    el('li', { 'data-seq': String(ev.seq) },
      el('span', { class: 'muted', text: `${new Date(ev.ts).toLocaleTimeString(document.documentElement.lang)} ${ev.actor}` }), ' ',
      el('span', { class: 'note-text', text: ev.note ? ev.note.text : '' }))));
}

// A note adds to the journal; the incident's version does not matter.
async function addNote(inc) {
  const box = $('note-text');
  const text = box.value;
  if (!text.trim()) return;
  const r = await command(inc, () => post(`/api/v1/incidents/${inc.id}/notes`, { text }));
  if (r.ok) {
    const again = $('note-text');
    if (again) again.value = '';
    loadHistory();
  }
}

export function focusNote() {
  const box = $('note-text');
  if (box) box.focus();
}

function renderTimeline() {
  const ol = $('detail-history');
  if (!ol) return;
  ol.replaceChildren(...history.map((ev) => el('li', { 'data-seq': String(ev.seq), 'data-kind': ev.kind },
    el('time', { text: new Date(ev.ts).toLocaleTimeString(document.documentElement.lang) }), ' ',
    el('strong', { text: label('k', ev.kind) }), ' ',
    ev.kind === 'incident.created' ? '' : ev.kind === 'incident.noted' ? `“${ev.note ? ev.note.text : ''}”` : (ev.changed || []).join(', '), ' · ',
    el('span', { class: 'muted', text: ev.actor }))));
}
