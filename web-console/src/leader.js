// Leadership view: the city at a glance (open incidents per line, priority 1,
// escalated, units out), the major incidents (priority 1, alarm level 2 or
// more, or escalated), a map of every open incident, and the linked video
// conference.
//
// The conference is the media bridge's (#7). It drops in here:
//   - its module mounts into #conference-mount (mountConference below hands it
//     the element and the live socket's send());
//   - WebSocket frames of type `conference` and `rtc.*` reach the handler it
//     registers with onFrame() (live.js dispatches every frame type it does
//     not handle itself to the registered handlers).
import { store, onFrame, send } from './live.js';
import { $, el, LINES, OPEN_STATUSES, isMajor } from './ctx.js';
import { t, label } from './i18n.js';
import { LiveMap } from './map.js';
import { ageText } from './queue.js';

let map = null;
let conference = null; // {onFrame(f)} once a conference module is mounted
const pending = []; // conference frames that arrived before a module was mounted (bounded)

onFrame('conference', (f) => deliver(f));
onFrame('rtc.', (f) => deliver(f));

function deliver(f) {
  if (conference) conference.onFrame(f);
  else if (pending.push(f) > 32) pending.shift();
}

// For the media bridge's module: mountConference((mount, api) => ({ onFrame(f) {...} })).
export function mountConference(factory) {
  const mount = $('conference-mount');
  mount.replaceChildren();
  conference = factory(mount, { send });
  for (const f of pending.splice(0)) conference.onFrame(f);
}

export function renderLeader(onSelect) {
  const open = [...store.incidents.values()].filter((i) => OPEN_STATUSES.includes(i.status));
  const busy = [...store.units.values()].filter((u) => ['dispatched', 'en_route', 'on_scene'].includes(u.status)).length;
  const tile = (key, n, cls = '') => el('div', { class: `tile ${cls}`, 'data-key': key },
    el('div', { class: 'tile-n', text: String(n) }), el('div', { class: 'tile-label', text: key.startsWith('line') ? label('line', key.slice(5)) : t(key) }));
  $('leader-tiles').replaceChildren(
    tile('open_total', open.length),
    tile('p1_total', open.filter((i) => i.priority === 1).length, 'p1'),
    tile('escalated_total', open.filter((i) => i.escalated_at).length, 'esc'),
    tile('units_busy', busy),
    ...LINES.slice(0, 4).map((l) => tile(`line_${l}`, open.filter((i) => i.line === l).length, `line-${l}`)));
  const major = open.filter(isMajor).sort((a, b) => a.priority - b.priority || (b.alarm_level || 0) - (a.alarm_level || 0) || Date.parse(a.reported_at) - Date.parse(b.reported_at));
  $('leader-major').replaceChildren(...(major.length ? major.map((i) => el('li', { 'data-id': String(i.id), class: i.escalated_at ? 'escalated' : '' },
    el('span', { class: `prio prio-${i.priority}`, text: `P${i.priority}` }), ' ',
    el('a', { href: '#', text: `#${i.id} ${i.title}`, onclick: (e) => { e.preventDefault(); onSelect(i.id); } }), ' ',
    el('span', { class: 'muted', text: `${label('line', i.line)} · ${i.district ? i.district.name : ''} · ${label('st', i.status)}${i.alarm_level ? ` · ${t('f_alarm')} ${i.alarm_level}` : ''} · ${ageText(i.reported_at)}` })))
    : [el('li', { class: 'muted', text: t('no_data') })]));
  // Open incidents per district, busiest first, with their priority-1 and escalated ones.
  const byDistrict = new Map();
  for (const i of open) {
    const name = i.district ? i.district.name : t('none_district');
    const d = byDistrict.get(name) || { name, n: 0, p1: 0, esc: 0 };
    d.n++;
    if (i.priority === 1) d.p1++;
    if (i.escalated_at) d.esc++;
    byDistrict.set(name, d);
  }
  const rows = [...byDistrict.values()].sort((a, b) => b.n - a.n || a.name.localeCompare(b.name));
  $('leader-districts').tBodies[0].replaceChildren(...rows.map((d) => el('tr', { 'data-district': d.name },
    el('td', { text: d.name }), el('td', { text: String(d.n) }),
    el('td', { class: d.p1 ? 'warn' : 'muted', text: `P1 ${d.p1}` }),
    el('td', { class: d.esc ? 'warn' : 'muted', text: `${t('escalated_total')} ${d.esc}` }))));
  if (!map) map = new LiveMap($('leader-map'), { onSelect, units: false, scale: 1.5 });
  map.update();
}

export function leaderMap() { return map; }
