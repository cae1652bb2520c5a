// Escalation alerts (an incident left new past its deadline, a task overdue,
// a unit overdue) and the live activity feed: every event applied, with its
// seq, newest first.
import { store } from './live.js';
import { $, el } from './ctx.js';
import { t, label } from './i18n.js';

const ALERTS_MAX = 200;
export const alerts = []; // newest first: {seq, kind, text, id, dismissed}

export function pushAlert(a) {
  alerts.unshift({ ...a, dismissed: false });
  if (alerts.length > ALERTS_MAX) alerts.length = ALERTS_MAX;
}

export function unread() { return alerts.filter((a) => !a.dismissed).length; }

export function renderAlerts(onSelect, changed) {
  const list = $('alerts-list');
  if (!alerts.length) { list.replaceChildren(el('li', { class: 'muted', text: t('no_alerts') })); return; }
  list.replaceChildren(...alerts.map((a) => el('li', { class: `alert alert-${a.kind.replace('.', '-')}${a.dismissed ? ' dismissed' : ''}`, 'data-seq': String(a.seq), 'data-kind': a.kind },
    el('time', { text: new Date(a.ts).toLocaleTimeString(document.documentElement.lang) }), ' ',
    a.id ? el('a', { href: '#', text: a.text, onclick: (e) => { e.preventDefault(); onSelect(a.id); } }) : a.text, ' ',
    a.dismissed ? null : el('button', { type: 'button', class: 'small', text: t('dismiss'), onclick: () => { a.dismissed = true; changed(); } }))));
}

export function renderFeed() {
  const items = store.feed.slice(-200).reverse();
  $('feed').replaceChildren(...items.map((f) => el('li', { 'data-seq': String(f.seq), 'data-kind': f.kind, 'data-id': f.id ? String(f.id) : null },
    el('span', { class: 'muted', text: `${f.seq} ` }),
    el('time', { text: new Date(f.ts).toLocaleTimeString(document.documentElement.lang) }), ' ',
    el('strong', { text: label('k', f.kind) }), ' ',
    f.id ? `#${f.id} ${f.title || ''}` : f.unit || '', ' · ',
    el('span', { class: 'muted', text: f.actor }))));
}
