// What the views share: who is signed in and what they may do, the selected
// incident, the chosen coordinate system, the districts, the page settings.
export const ctx = {
  user: null, // {name, display, role, agency} or null with sign-in off
  role: 'open',
  canAct: true, // may change incidents (dispatcher, supervisor, open mode)
  selected: null, // incident id
  crs: 'wgs84',
  districts: [], // [{code, name}] from the jurisdictions layer
  districtsGeo: null, // the FeatureCollection
  tileUrl: null,
  view: 'desk',
};

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export const LINES = ['110', '119', '120', '122', 'other'];
export const OPEN_STATUSES = ['new', 'acknowledged', 'dispatched', 'en_route', 'on_scene'];
export const LINE_COLOURS = { 110: '#3e7bfa', 119: '#e5484d', 120: '#30a46c', 122: '#f5a524', other: '#8e8e9a' };
export const UNIT_COLOURS = { available: '#30a46c', dispatched: '#f5a524', en_route: '#f76b15', on_scene: '#e5484d',
  returning: '#3e9bf5', out_of_service: '#6b7d8f' };

// The lifecycle (docs/dispatch.md): the moves each status allows.
export const MOVES = {
  new: ['acknowledged', 'dispatched', 'cancelled', 'unfounded'],
  acknowledged: ['dispatched', 'cancelled', 'unfounded'],
  dispatched: ['en_route', 'on_scene', 'resolved', 'cancelled', 'unfounded'],
  en_route: ['on_scene', 'resolved', 'cancelled', 'unfounded'],
  on_scene: ['resolved', 'unfounded'],
  resolved: ['acknowledged', 'closed'],
};
export const FORWARD = { new: 'acknowledged', acknowledged: 'dispatched', dispatched: 'en_route',
  en_route: 'on_scene', on_scene: 'resolved', resolved: 'closed' };

export function isMajor(inc) {
  return inc.priority === 1 || (inc.alarm_level || 0) >= 2 || !!inc.escalated_at;
}
