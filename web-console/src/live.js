// The live state: one WebSocket to /ws (subprotocol liandong.v1), the
// incidents and units it carries, and the seq of the last event applied.
// After a cut the console says hello with that seq and the hub sends exactly
// the events it missed (or a snapshot when it is too far behind), so nothing
// is missed or applied twice, without a reload.
//
// Frames of other families are handed to handlers registered with
// onFrame(prefix, fn): the media bridge (#7) plugs its `conference` and
// `rtc.*` frames in here (see leader.js), and send() is its way back.
const FINAL = new Set(['closed', 'cancelled', 'unfounded']);
const FEED_MAX = 300;

export const store = {
  seq: 0,
  serverSeq: 0,
  conn: 'connecting',
  downSince: null, // when the connection was lost, until live again
  incidents: new Map(),
  units: new Map(),
  presence: new Map(), // incident id -> [{console, user, state}]
  feed: [], // newest last: {seq, ts, kind, actor, id, unit}
  consoleId: null,
  filters: null, // hello's agencies/districts, when the role asks for them
};

const subs = new Set();
const frameHandlers = [];
let ws = null;
let retry = 0;
let retryTimer = null;
let quietTimer = null;

export function subscribe(fn) { subs.add(fn); return () => subs.delete(fn); }
function emit(what) { for (const fn of subs) fn(what); }

export function onFrame(prefix, fn) { frameHandlers.push({ prefix, fn }); }

export function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(obj)); return true; }
  return false;
}

function setConn(conn) {
  if (store.conn === conn) return;
  // Since when the page has not been in step with the centre (shown while cut off).
  if (conn === 'live') store.downSince = null;
  else if ((conn === 'down' || conn === 'offline') && !store.downSince) store.downSince = new Date();
  store.conn = conn;
  emit({ type: 'conn' });
}

export function connect() {
  clearTimeout(retryTimer);
  if (!navigator.onLine) { setConn('offline'); return; }
  const old = ws;
  ws = null; // its close is ours: no reconnect from it, no frames from it
  if (old) old.close();
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const sock = new WebSocket(`${proto}://${location.host}/ws`, 'liandong.v1');
  ws = sock;
  setConn('connecting');
  sock.onopen = () => {
    retry = 0;
    sock.send(JSON.stringify({ type: 'hello', last_seq: store.seq, ...(store.filters || {}) }));
  };
  sock.onmessage = (m) => {
    if (ws !== sock) return;
    let f;
    try { f = JSON.parse(m.data); } catch { return; }
    onMessage(f);
  };
  sock.onclose = async (ev) => {
    if (ws !== sock) return; // replaced on purpose
    ws = null;
    setConn(navigator.onLine ? 'down' : 'offline');
    // 1008: the session ended or the user was disabled; a refused handshake closes with 1006.
    if (ev.code === 1008 || ev.code === 1006) {
      const res = await fetch('/api/v1/session').catch(() => null);
      if (res && res.status === 401) { location.reload(); return; }
    }
    if (!navigator.onLine) return; // 'online' reconnects
    const delay = Math.min(8000, 400 * 2 ** retry++);
    retryTimer = setTimeout(connect, delay);
  };
}

// The browser says the network is gone: say so and stop trying until it is back.
window.addEventListener('offline', () => {
  const sock = ws;
  ws = null;
  if (sock) sock.close();
  clearTimeout(retryTimer);
  setConn('offline');
});
window.addEventListener('online', () => { retry = 0; connect(); });

// Live once the applied seq reaches the target. A console with agency filters
// skips events that are not its own, so its seq may never reach the server's:
// a quiet moment (no event for 1.5 s) after the replay ends the catch-up too.
function catchUpTo(target, state) {
  if (store.seq >= target) { caughtUp(); return; }
  setConn(state);
  clearTimeout(quietTimer);
  quietTimer = setTimeout(caughtUp, 1500);
}

function caughtUp() {
  clearTimeout(quietTimer);
  setConn('live');
}

function onMessage(f) {
  switch (f.type) {
    case 'welcome':
      store.consoleId = f.console;
      store.serverSeq = f.server_seq;
      if (f.mode === 'snapshot') setConn('snapshot');
      else catchUpTo(f.server_seq, 'catchup');
      emit({ type: 'welcome', mode: f.mode });
      break;
    case 'snapshot':
      store.incidents.clear();
      for (const inc of f.incidents) store.incidents.set(inc.id, inc);
      store.units.clear();
      for (const u of f.units || []) store.units.set(u.id, u);
      store.seq = f.seq;
      caughtUp();
      emit({ type: 'snapshot' });
      break;
    case 'event':
      if (f.seq <= store.seq) return; // already applied
      store.seq = f.seq;
      applyEvent(f);
      if (store.conn === 'catchup' || store.conn === 'resync') catchUpTo(store.serverSeq, store.conn);
      else if (store.conn !== 'live') caughtUp();
      break;
    case 'positions':
      for (const p of f.units) {
        const u = store.units.get(p.id);
        if (u) Object.assign(u, { lon: p.lon, lat: p.lat, pos_at: p.at, stale: false });
      }
      emit({ type: 'positions' });
      break;
    case 'presence':
      store.presence.set(f.incident, f.viewers || []);
      emit({ type: 'presence', incident: f.incident });
      break;
    case 'presence_all':
      // Who has what open as this connection starts: replaces what the page knew.
      for (const id of store.presence.keys()) emit({ type: 'presence', incident: id });
      store.presence.clear();
      for (const p of f.incidents || []) {
        store.presence.set(p.incident, p.viewers || []);
        emit({ type: 'presence', incident: p.incident });
      }
      break;
    case 'resync':
      // The hub cut this console over to catch-up (it fell behind): ask how far to go.
      setConn('resync');
      send({ type: 'ping', id: 'resync' });
      break;
    case 'pong':
      if (f.id === 'resync' && store.conn === 'resync') {
        store.serverSeq = f.server_seq;
        catchUpTo(f.server_seq, 'resync');
      }
      break;
    case 'error':
      emit({ type: 'error', code: f.code, message: f.message });
      break;
    default:
      for (const h of frameHandlers) {
        if (f.type === h.prefix || f.type.startsWith(h.prefix)) h.fn(f);
      }
  }
}

function applyEvent(f) {
  const item = { seq: f.seq, ts: f.ts, kind: f.kind, actor: f.actor, changed: f.changed || [] };
  let prev = null;
  if (f.incident) {
    const inc = f.incident;
    item.id = inc.id;
    item.title = inc.title;
    prev = store.incidents.get(inc.id) || null;
    if (FINAL.has(inc.status) || inc.merged_into) store.incidents.delete(inc.id);
    else store.incidents.set(inc.id, inc);
  }
  if (f.unit) {
    item.unit = f.unit.id;
    const old = store.units.get(f.unit.id);
    // Unit events carry the unit's record; keep the live position we already have.
    store.units.set(f.unit.id, { ...(old || {}), ...f.unit,
      lon: f.unit.lon ?? old?.lon ?? null, lat: f.unit.lat ?? old?.lat ?? null });
  }
  if (f.kind === 'task.overdue' && f.incident) item.agency = (f.changed || []).join(',');
  store.feed.push(item);
  if (store.feed.length > FEED_MAX) store.feed.splice(0, store.feed.length - FEED_MAX);
  emit({ type: 'event', event: f, prev });
}

// Units come with the snapshot; a console that resumed asks REST for positions' staleness.
export async function refreshUnits() {
  const res = await fetch('/api/v1/units').catch(() => null);
  if (!res || !res.ok) return;
  const { units } = await res.json();
  for (const u of units) store.units.set(u.id, u);
  emit({ type: 'units' });
}
