// The unit board: every unit with its status, incident and last fix, grouped
// by agency; a count per status at the top. Stale fixes are marked, never hidden.
import { store } from './live.js';
import { $, el, UNIT_COLOURS } from './ctx.js';
import { t, label } from './i18n.js';

export function renderUnits(onSelect) {
  const units = [...store.units.values()].sort((a, b) => a.agency.localeCompare(b.agency) || a.id.localeCompare(b.id));
  const counts = {};
  for (const u of units) counts[u.status] = (counts[u.status] || 0) + 1;
  $('units-summary').replaceChildren(...Object.keys(UNIT_COLOURS).map((s) =>
    el('span', { class: `count ust-${s}`, 'data-status': s, text: `${label('ust', s)} ${counts[s] || 0}` })));
  $('units-count').textContent = `(${units.length})`;
  $('units-table').tBodies[0].replaceChildren(...units.map((u) => el('tr', { 'data-unit': u.id, 'data-status': u.status },
    el('td', { text: u.id }),
    el('td', { text: label('ag', u.agency) }),
    el('td', { text: label('kind', u.kind) }),
    el('td', {}, el('span', { class: `chip ust-${u.status}`, text: label('ust', u.status) }),
      u.flagged_at ? el('span', { class: 'flag flag-esc', text: ' ⚠' }) : null),
    el('td', {}, u.incident_id ? el('a', { href: '#', text: `#${u.incident_id}`, onclick: (e) => { e.preventDefault(); onSelect(u.incident_id); } }) : ''),
    el('td', { text: u.lon == null ? t('no_position') : `${u.lon.toFixed(5)}, ${u.lat.toFixed(5)}` }),
    el('td', { class: u.stale ? 'warn' : '', text: u.pos_at ? `${new Date(u.pos_at).toLocaleTimeString(document.documentElement.lang)}${u.stale ? ' · ' + t('stale') : ''}` : '' }))));
}
