// The incident queue: open incidents, most urgent first (priority, then the
// oldest report), filtered by line, status and district; keyboard selection.
import { store } from './live.js';
import { ctx, $, el, LINES, OPEN_STATUSES } from './ctx.js';
import { t, label } from './i18n.js';

let onSelect = () => {};
const fresh = new Map(); // id -> 'new' | 'escalated' until the next render

export function initQueue(select) {
  onSelect = select;
  for (const id of ['filter-line', 'filter-status', 'filter-district']) {
    $(id).addEventListener('change', renderQueue);
  }
  fillFilters();
}

export function fillFilters() {
  const keep = (id) => $(id).value;
  const line = keep('filter-line'), status = keep('filter-status'), district = keep('filter-district');
  $('filter-line').replaceChildren(el('option', { value: '', text: t('all') }),
    ...LINES.map((l) => el('option', { value: l, text: label('line', l) })));
  $('filter-status').replaceChildren(el('option', { value: '', text: t('all_open') }),
    ...OPEN_STATUSES.map((s) => el('option', { value: s, text: label('st', s) })));
  $('filter-district').replaceChildren(el('option', { value: '', text: t('all') }),
    ...ctx.districts.map((d) => el('option', { value: d.code, text: d.name })),
    el('option', { value: '-', text: t('none_district') }));
  $('filter-line').value = line;
  $('filter-status').value = status;
  $('filter-district').value = district;
}

export function markFresh(id, why) { fresh.set(id, why); }

export function ageText(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return t('age_s', { n: s });
  if (s < 3600) return t('age_m', { n: Math.floor(s / 60) });
  return t('age_h', { n: Math.floor(s / 3600) });
}

// The address, with the district in front when the address does not name it.
function place(inc) {
  const d = inc.district && inc.district.name;
  if (!inc.address) return d || '';
  return d && !inc.address.includes(d) ? `${d} · ${inc.address}` : inc.address;
}

export function visibleList() {
  const line = $('filter-line').value, status = $('filter-status').value, district = $('filter-district').value;
  return [...store.incidents.values()]
    .filter((i) => OPEN_STATUSES.includes(i.status))
    .filter((i) => !line || i.line === line)
    .filter((i) => !status || i.status === status)
    .filter((i) => !district || (district === '-' ? !i.district : i.district && i.district.code === district))
    .sort((a, b) => a.priority - b.priority || Date.parse(a.reported_at) - Date.parse(b.reported_at) || a.id - b.id);
}

export function renderQueue() {
  const list = visibleList();
  const rows = list.map((inc) => {
    const viewers = (store.presence.get(inc.id) || []).filter((v) => v.console !== store.consoleId);
    const flags = [];
    if (inc.escalated_at) flags.push(el('span', { class: 'flag flag-esc', title: t('f_escalated'), text: '⚠' }));
    if ((inc.links || []).some((l) => l.kind === 'duplicate_suspect')) flags.push(el('span', { class: 'flag', title: t('links'), text: t('dup_flag') }));
    if (viewers.length) flags.push(el('span', { class: 'flag', title: viewers.map((v) => v.user).join(', '), text: t('viewing_n', { n: viewers.length }) }));
    const tr = el('tr', {
      'data-id': String(inc.id), 'data-line': inc.line, 'data-priority': String(inc.priority), 'data-status': inc.status,
      class: [fresh.has(inc.id) ? `fresh fresh-${fresh.get(inc.id)}` : '', ctx.selected === inc.id ? 'selected' : '',
        inc.escalated_at ? 'escalated' : '', `line-${inc.line}`].join(' ').trim(),
      onclick: () => onSelect(inc.id),
    },
    el('td', {}, el('span', { class: `prio prio-${inc.priority}`, text: `P${inc.priority}` })),
    el('td', { class: 'line', text: label('line', inc.line) }),
    el('td', { class: 'title', text: `#${inc.id} ${inc.title}` }),
    el('td', { class: 'place', text: place(inc) }),
    el('td', {}, el('span', { class: `st st-${inc.status}`, text: label('st', inc.status) })),
    el('td', { text: inc.alarm_level ? String(inc.alarm_level) : '' }),
    el('td', { class: 'age', text: ageText(inc.reported_at) }),
    el('td', {}, flags));
    return tr;
  });
  $('queue').tBodies[0].replaceChildren(...rows);
  fresh.clear();
  $('queue-count').textContent = `(${list.length})`;
  const sel = $('queue').querySelector('tr.selected');
  if (sel) sel.scrollIntoView({ block: 'nearest' });
}

export function moveSelection(delta) {
  const list = visibleList();
  if (!list.length) return;
  let i = list.findIndex((x) => x.id === ctx.selected);
  i = i < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, i + delta));
  onSelect(list[i].id);
}
