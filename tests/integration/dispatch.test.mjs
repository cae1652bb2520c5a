// The dispatch engine, black-box: the real server on loopback, as consoles and
// agency gateways use it. Lifecycle with stamped times, linkage plans turning
// one report into tasks for several agencies, duplicate detection, merges that
// keep both histories, escalation that survives a restart, fan-out filtered by
// agency, units with AVL positions, recommendations and assignment, presence,
// plan files refused with their line, and the statistics endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startServer, tempDir, Console, report, addGateway } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PLANS = path.join(HERE, '..', '..', 'server', 'plans.conf');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString();

// A point d metres north of (lon, lat): 1 degree of latitude is 110.6-111.7 km;
// near 23 N it is 110,752 m (WGS84), close enough for a 150 m offset.
const north = (lon, lat, d) => [lon, lat + d / 110752];

function patch(srv, id, version, body) {
  return srv.request('PATCH', `/api/v1/incidents/${id}`, { body, headers: { 'if-match': `"${version}"` } });
}

async function journal(srv) {
  return (await srv.get('/api/v1/journal?after=0&limit=1000')).json.events;
}

test('lifecycle: allowed moves only, each stamped once, skipped steps implied', async () => {
  const srv = await startServer();
  try {
    const c = (await srv.post('/api/v1/intake/json', report('LC-1'))).json.incident;
    assert.equal(c.status, 'new');
    assert.ok(c.ack_due_at, 'a new incident has an acknowledgement deadline');
    // new -> on_scene is not a move the lifecycle allows: 409, nothing changes.
    let r = await patch(srv, c.id, 1, { status: 'on_scene' });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'invalid_transition');
    assert.match(r.json.error.detail, /acknowledged, dispatched, cancelled, unfounded/);
    assert.equal((await srv.get(`/api/v1/incidents/${c.id}`)).json.version, 1);
    // new -> dispatched acknowledges too (the same instant), and clears the deadline.
    r = await patch(srv, c.id, 1, { status: 'dispatched' });
    assert.equal(r.status, 200, r.text);
    let inc = r.json.incident;
    assert.equal(inc.times.acknowledged_at, inc.times.dispatched_at);
    assert.equal(inc.ack_due_at, null);
    r = await patch(srv, c.id, 2, { status: 'on_scene' });
    inc = r.json.incident;
    assert.equal(inc.times.en_route_at, null, 'a skipped en route is left empty, not invented');
    assert.ok(inc.times.on_scene_at >= inc.times.dispatched_at);
    r = await patch(srv, c.id, 3, { status: 'resolved' });
    r = await patch(srv, c.id, 4, { status: 'acknowledged' }); // reopened
    assert.equal(r.status, 200);
    assert.equal(r.json.incident.times.acknowledged_at, inc.times.acknowledged_at, 'first time kept');
    r = await patch(srv, c.id, 5, { status: 'dispatched' });
    r = await patch(srv, c.id, 6, { status: 'resolved' });
    r = await patch(srv, c.id, 7, { status: 'closed' });
    assert.ok(r.json.incident.times.closed_at);
    r = await patch(srv, c.id, 8, { status: 'acknowledged' });
    assert.equal(r.status, 409, 'closed is final');
    assert.match(r.json.error.detail, /none \(final\)/);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('a linkage plan turns one building-fire report into tasks for 119, 120 and 122; raising the alarm adds 110', async () => {
  const srv = await startServer({ args: ['--set', `dispatch.plans=${PLANS}`] });
  try {
    const plans = (await srv.get('/api/v1/plans')).json.plans;
    assert.ok(plans.some((p) => p.id === 'building-fire'));
    const inc = (await srv.post('/api/v1/intake/json', report('PLAN-1'))).json.incident;
    assert.equal(inc.plan, 'building-fire');
    assert.equal(inc.alarm_level, 1);
    assert.deepEqual(inc.agencies, ['119', '120', '122']);
    const tasks = inc.tasks.map((t) => `${t.agency}:${t.kind}*${t.count}:${t.state}`).sort();
    assert.deepEqual(tasks, ['119:fire_engine*2:pending', '120:ambulance*1:pending', '122:traffic_police*1:pending']);
    assert.ok(inc.tasks.every((t) => t.due_at), 'each agency has an acknowledgement deadline');

    // 120 acknowledges its task: recorded with who and when; the others stay pending.
    let r = await srv.post(`/api/v1/incidents/${inc.id}/tasks/120/ack`, {});
    assert.equal(r.status, 200, r.text);
    const t120 = r.json.incident.tasks.find((t) => t.agency === '120');
    assert.equal(t120.state, 'acknowledged');
    assert.match(t120.acknowledged_by, /^console@/);
    assert.equal(t120.due_at, null);
    assert.equal(r.json.incident.tasks.filter((t) => t.state === 'pending').length, 2);
    r = await srv.post(`/api/v1/incidents/${inc.id}/tasks/110/ack`, {});
    assert.equal(r.status, 404, '110 has no task yet');

    // Raising to level 2 (If-Match required): 110 joins, 119 needs more units.
    const v = r.json ? (await srv.get(`/api/v1/incidents/${inc.id}`)).json.version : 0;
    r = await srv.post(`/api/v1/incidents/${inc.id}/alarm`, { level: 2 });
    assert.equal(r.status, 428);
    r = await srv.request('POST', `/api/v1/incidents/${inc.id}/alarm`, { body: { level: 2 }, headers: { 'if-match': `"${v}"` } });
    assert.equal(r.status, 200, r.text);
    const up = r.json.incident;
    assert.equal(up.alarm_level, 2);
    assert.deepEqual(up.agencies, ['110', '119', '120', '122']);
    const fe = up.tasks.find((t) => t.kind === 'fire_engine');
    assert.equal(fe.count, 4);
    assert.equal(fe.state, 'pending', 'a bigger need is a new request: acknowledged again');
    const amb = up.tasks.find((t) => t.kind === 'ambulance');
    assert.equal(amb.count, 2);
    // Levels only go up.
    r = await srv.request('POST', `/api/v1/incidents/${inc.id}/alarm`, { body: { level: 1 }, headers: { 'if-match': `"${up.version}"` } });
    assert.equal(r.status, 409);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('a plan file with an error is refused with its line; the old plans stay', async () => {
  const dir = tempDir('plans');
  const file = path.join(dir, 'plans.conf');
  writeFileSync(file, 'plan p1 one\n  level 1 119:fire_engine\n');
  const srv = await startServer({ args: ['--set', `dispatch.plans=${file}`] });
  try {
    writeFileSync(file, 'plan p1 one\n  when category=fire\n  level 1 119:fire_engine\n');
    let r = await srv.post('/api/v1/plans/reload', {});
    assert.equal(r.status, 422);
    assert.match(r.json.error.detail, /line 2: .*fire/);
    assert.deepEqual((await srv.get('/api/v1/plans')).json.plans.map((p) => p.id), ['p1']);
    const inc = (await srv.post('/api/v1/intake/json', report('PF-1'))).json.incident;
    assert.equal(inc.plan, 'p1', 'the old plan is still in force');
    writeFileSync(file, readFileSync(PLANS));
    r = await srv.post('/api/v1/plans/reload', {});
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.plans.length > 10);
    assert.equal((await srv.post('/api/v1/intake/json', report('PF-2'))).json.incident.plan, 'building-fire');
  } finally {
    await srv.stop();
    srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two reports 150 m and 3 minutes apart: the second is a likely duplicate; a merge keeps both histories', async () => {
  const srv = await startServer();
  try {
    const now = Date.now();
    const a = (await srv.post('/api/v1/intake/json', report('DUP-A', { reported_at: iso(now - 180000) }))).json.incident;
    const [lon, lat] = north(a.lon, a.lat, 150);
    const b = (await srv.post('/api/v1/intake/json', report('DUP-B', { lon, lat, reported_at: iso(now) }))).json.incident;
    assert.equal(b.links.length, 1, JSON.stringify(b.links));
    const l = b.links[0];
    assert.equal(l.incident, a.id);
    assert.equal(l.role, 'likely_duplicate_of');
    assert.ok(Math.abs(l.distance_m - 150) < 1, `distance ${l.distance_m}`);
    assert.equal(l.gap_s, 180);
    // The earlier incident is left as it was: the suspicion shows on the newer report.
    const a2 = (await srv.get(`/api/v1/incidents/${a.id}`)).json;
    assert.equal(a2.version, 1);
    assert.equal(a2.links.length, 0);
    // Too far (2 km), too late (20 min) or an incompatible category: no link.
    const [flon, flat] = north(a.lon, a.lat, 2000);
    const far = (await srv.post('/api/v1/intake/json', report('DUP-F', { lon: flon, lat: flat }))).json.incident;
    assert.equal(far.links.length, 0);
    const late = (await srv.post('/api/v1/intake/json', report('DUP-L', { reported_at: iso(now - 20 * 60000) }))).json.incident;
    assert.equal(late.links.filter((x) => x.incident === a.id).length, 0);
    const other = (await srv.post('/api/v1/intake/json', report('DUP-S', { category: 'social_security', type: 'public_order' }))).json.incident;
    assert.equal(other.links.length, 0);

    // B gets a note of its own, then the dispatcher confirms: merge B into A.
    await patch(srv, b.id, 1, { description: '同一起火，邻居报警' });
    const stale = await srv.request('POST', `/api/v1/incidents/${b.id}/links`, { body: { incident: a.id, kind: 'merge' }, headers: { 'if-match': '"1"' } });
    assert.equal(stale.status, 412, 'a merge from a stale view is refused with the current incident');
    assert.equal(stale.json.current.version, 2);
    const m = await srv.request('POST', `/api/v1/incidents/${b.id}/links`, { body: { incident: a.id, kind: 'merge' }, headers: { 'if-match': '"2"' } });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.incident.status, 'closed');
    assert.equal(m.json.incident.merged_into, a.id);
    assert.ok(m.json.other.links.some((x) => x.incident === b.id && x.role === 'merged_from'));
    // A's history holds both incidents' events, in seq order.
    const h = (await srv.get(`/api/v1/incidents/${a.id}/history`)).json.events;
    const ids = new Set(h.map((e) => e.incident.id));
    assert.ok(ids.has(a.id) && ids.has(b.id));
    assert.ok(h.some((e) => e.incident.id === b.id && e.changed?.includes('description')));
    for (let i = 1; i < h.length; i++) assert.ok(h[i].seq > h[i - 1].seq);
    // Merged is final: merging again is a conflict.
    const again = await srv.request('POST', `/api/v1/incidents/${b.id}/links`, { body: { incident: a.id, kind: 'related' }, headers: { 'if-match': `"${m.json.incident.version}"` } });
    assert.equal(again.status, 409);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('likely duplicates: found after a restart, not among closed incidents, and still found in a busy city', async () => {
  const dataDir = tempDir('dupidx');
  let srv = await startServer({ dataDir });
  try {
    const a = (await srv.post('/api/v1/intake/json', report('IDX-A'))).json.incident;
    const closed = (await srv.post('/api/v1/intake/json', report('IDX-C', { lon: 113.3600, lat: 23.1200 }))).json.incident;
    await patch(srv, closed.id, 1, { status: 'cancelled' });
    assert.equal((await srv.stop()).code, 0);
    // The index is the writer's memory: a restarted server builds it from the store.
    srv = await startServer({ dataDir });
    const [lon, lat] = north(a.lon, a.lat, 100);
    const b = (await srv.post('/api/v1/intake/json', report('IDX-B', { lon, lat }))).json.incident;
    assert.deepEqual(b.links.map((l) => l.incident), [a.id], 'the report taken before the restart');
    // A cancelled incident is no duplicate candidate, before or after a restart.
    const [clon, clat] = north(113.3600, 23.1200, 50);
    const c2 = (await srv.post('/api/v1/intake/json', report('IDX-C2', { lon: clon, lat: clat }))).json.incident;
    assert.equal(c2.links.length, 0, JSON.stringify(c2.links));
    // 600 reports elsewhere in the city (none within 300 m of the next one), then one
    // beside A: the search still finds A and B, nearest first.
    for (let i = 0; i < 600; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => srv.post('/api/v1/intake/json',
        report(`IDX-N${i + k}`, { lon: 113.20 + ((i + k) % 30) * 0.008, lat: 23.00 + Math.floor((i + k) / 30) * 0.005 }))));
    }
    const [dlon, dlat] = north(a.lon, a.lat, 40);
    const d = (await srv.post('/api/v1/intake/json', report('IDX-D', { lon: dlon, lat: dlat }))).json.incident;
    assert.deepEqual(d.links.map((l) => l.incident), [a.id, b.id]);
    assert.ok(Math.abs(d.links[0].distance_m - 40) < 1, JSON.stringify(d.links));
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('an incident left new escalates when its deadline passes, even across a restart', async () => {
  const dataDir = tempDir('esc');
  const args = ['--set', 'dispatch.ack_p1=5', '--set', 'dispatch.ack_p2=3600'];
  let srv = await startServer({ dataDir, deadlines: true, args });
  let esc, calm;
  try {
    esc = (await srv.post('/api/v1/intake/json', report('ESC-1'))).json.incident;
    calm = (await srv.post('/api/v1/intake/json', report('ESC-2', { lon: 113.40 }))).json.incident;
    await patch(srv, calm.id, 1, { status: 'acknowledged' });
    assert.equal((await srv.stop()).code, 0);
    // Down past the deadline: nothing runs, nothing is forgotten.
    const due = Date.parse(esc.ack_due_at);
    await sleep(Math.max(0, due - Date.now()) + 500);
    srv = await startServer({ dataDir, deadlines: true, args });
    const sup = await Console.open(srv.port, 0);
    const ev = await sup.waitFor((f) => f.type === 'event' && f.kind === 'incident.escalated' ||
      (f.type === 'snapshot' && f.incidents.some((i) => i.id === esc.id && i.escalated_at)), 10000, 'escalation');
    assert.ok(ev);
    const got = (await srv.get(`/api/v1/incidents/${esc.id}`)).json;
    assert.ok(got.escalated_at, 'escalated');
    assert.ok(Date.parse(got.escalated_at) >= due);
    assert.equal(got.ack_due_at, null);
    assert.equal((await srv.get(`/api/v1/incidents/${calm.id}`)).json.escalated_at, null, 'the acknowledged one did not escalate');
    const e = (await journal(srv)).find((x) => x.kind === 'incident.escalated');
    assert.equal(e.actor, 'system:deadlines');
    assert.equal(e.incident.id, esc.id);
    sup.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('fan-out is filtered at publish: a 120 console gets what concerns 120, a supervisor everything', async () => {
  const srv = await startServer({ args: ['--set', `dispatch.plans=${PLANS}`] });
  try {
    const open = async (hello) => {
      const c = await Console.open(srv.port);
      c.send({ type: 'hello', last_seq: 0, ...hello });
      await c.waitFor((f) => f.type === 'snapshot');
      return c;
    };
    const sup = await open({});
    const c120 = await open({ agencies: ['120'] });
    const c110 = await open({ agencies: ['110'] });
    const fire = (await srv.post('/api/v1/intake/json', report('FLT-1'))).json; // 119, 120, 122
    const police = (await srv.post('/api/v1/intake/json', report('FLT-2', { line: '110', category: 'social_security', type: 'theft', lon: 113.25 }))).json; // 110
    await sup.waitFor((f) => f.type === 'event' && f.seq === police.seq);
    await c120.waitFor((f) => f.type === 'event' && f.seq === fire.seq);
    await c110.waitFor((f) => f.type === 'event' && f.seq === police.seq);
    // One more event that both see, so that anything misrouted would have arrived by then.
    const both = (await srv.post('/api/v1/intake/json', report('FLT-3', { line: '120', category: 'public_health', type: 'medical.cardiac_arrest', lon: 113.2 }))).json;
    await sup.waitFor((f) => f.seq === both.seq);
    await c120.waitFor((f) => f.seq === both.seq);
    const seqs = (c) => c.events().map((f) => f.seq);
    assert.deepEqual(seqs(sup), [fire.seq, police.seq, both.seq]);
    assert.deepEqual(seqs(c120), [fire.seq, both.seq]);
    // The 110 console: the police report only (the cardiac arrest plan tasks 120 alone).
    await sleep(200);
    assert.deepEqual(seqs(c110), [police.seq]);
    // A 110 task added later makes the fire concern 110 from then on.
    const v = (await srv.get(`/api/v1/incidents/${fire.incident.id}`)).json.version;
    const raised = await srv.request('POST', `/api/v1/incidents/${fire.incident.id}/alarm`, { body: { level: 2 }, headers: { 'if-match': `"${v}"` } });
    await c110.waitFor((f) => f.seq === raised.json.seq, 5000, 'the raised fire on the 110 console');
    // Resuming from the journal is filtered the same way: a 120 console that
    // missed everything gets exactly its events, none of the police report.
    const late = await Console.open(srv.port);
    late.send({ type: 'hello', last_seq: 1, agencies: ['120'] });
    await late.waitFor((f) => f.type === 'event' && f.seq === raised.json.seq);
    assert.deepEqual(late.events().map((f) => f.seq), [both.seq, raised.json.seq]);
    // A snapshot for a filtered console holds only what it may see.
    const snap = await open({ agencies: ['110'] });
    const s = snap.frames.find((f) => f.type === 'snapshot');
    assert.deepEqual(s.incidents.map((i) => i.id).sort(), [fire.incident.id, police.incident.id].sort());
    // A bad filter is refused with an error frame, and the console is unchanged.
    snap.send({ type: 'hello', last_seq: 0, agencies: ['1 1'] });
    const err = await snap.waitFor((f) => f.type === 'error');
    assert.equal(err.code, 'invalid_field');
    for (const c of [sup, c120, c110, late, snap]) c.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('units: AVL positions, nearest available recommendations, assignment rules, status follows', async () => {
  const srv = await startServer({ args: ['--set', `dispatch.plans=${PLANS}`, '--set', 'dispatch.stale_s=60'] });
  try {
    const inc = (await srv.post('/api/v1/intake/json', report('U-1'))).json.incident; // 113.3245, 23.1372
    const units = [
      { id: 'TH-FE-1', agency: '119', kind: 'fire_engine', station: '天河消防站' },
      { id: 'TH-FE-2', agency: '119', kind: 'fire_engine', station: '天河消防站' },
      { id: 'HZ-FE-1', agency: '119', kind: 'fire_engine', station: '海珠消防站' },
      { id: 'OLD-FE-1', agency: '119', kind: 'fire_engine' },
      { id: 'BY-FE-1', agency: '119', kind: 'fire_engine' },
      { id: 'TH-AMB-1', agency: '120', kind: 'ambulance' },
      { id: 'TH-PT-1', agency: '110', kind: 'patrol' },
    ];
    let r = await srv.post('/api/v1/units', { units });
    assert.equal(r.status, 200, r.text);
    const at = iso(Date.now());
    const pos = [
      ['TH-FE-1', 113.3300, 23.1400], // ~650 m
      ['TH-FE-2', 113.3500, 23.1400], // ~2.6 km
      ['HZ-FE-1', 113.3200, 23.1000], // ~4.2 km
      ['OLD-FE-1', 113.3250, 23.1380], // nearest, but its position is stale
      ['BY-FE-1', 113.2700, 23.1600], // ~6 km
      ['TH-AMB-1', 113.3260, 23.1360],
      ['TH-PT-1', 113.3240, 23.1370],
    ].map(([unit, lon, lat]) => ({ unit, lon, lat, at: unit === 'OLD-FE-1' ? iso(Date.now() - 600000) : at }));
    r = await srv.post('/api/v1/units/positions', { positions: pos });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.applied, 7);

    // Bad batches are refused whole, naming the position, and change nothing.
    const before = (await srv.get('/api/v1/units')).json.units.find((u) => u.id === 'TH-FE-1');
    for (const [bad, why] of [
      [{ unit: 'TH-FE-1', lon: 2.35, lat: 48.85, at }, /outside the service area/],
      [{ unit: 'TH-FE-1', lon: 113.33, lat: 23.14, at: iso(Date.now() + 3600000) }, /future/],
      [{ unit: 'NO-SUCH', lon: 113.33, lat: 23.14, at }, /no unit NO-SUCH/],
    ]) {
      r = await srv.post('/api/v1/units/positions', { positions: [{ unit: 'TH-FE-1', lon: 113.0, lat: 23.0, at }, bad] });
      assert.equal(r.status, 422, r.text);
      assert.match(r.json.error.detail, /positions\[1\]/);
      assert.match(r.json.error.detail, why);
    }
    const after = (await srv.get('/api/v1/units')).json.units.find((u) => u.id === 'TH-FE-1');
    assert.deepEqual(after, before, 'the refused batches moved nothing');
    assert.equal((await srv.get('/api/v1/units')).json.units.find((u) => u.id === 'OLD-FE-1').stale, true);

    // Nearest available fire engines, nearest first, the stale one left out.
    r = await srv.get(`/api/v1/incidents/${inc.id}/recommendations?kind=fire_engine&limit=3`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.units.map((u) => u.unit), ['TH-FE-1', 'TH-FE-2', 'HZ-FE-1']);
    assert.equal(r.json.stale_skipped, 1);
    const d = r.json.units.map((u) => u.distance_m);
    assert.ok(d[0] < d[1] && d[1] < d[2]);
    assert.ok(r.json.units[0].eta_s > 0);
    assert.match(r.json.units[0].reason, /nearest available fire_engine/);

    // Assign the nearest: unit dispatched, incident dispatched (stamped).
    r = await srv.request('POST', `/api/v1/incidents/${inc.id}/assign`, { body: { units: ['TH-FE-1'] }, headers: { 'if-match': `"${inc.version}"` } });
    assert.equal(r.status, 200, r.text);
    let cur = r.json.incident;
    assert.equal(cur.status, 'dispatched');
    assert.ok(cur.times.dispatched_at);
    assert.deepEqual(cur.units.map((u) => u.id), ['TH-FE-1']);
    assert.equal(r.json.units[0].status, 'dispatched');
    // Busy now: not recommended, and assigning it again is refused.
    r = await srv.get(`/api/v1/incidents/${inc.id}/recommendations?kind=fire_engine&limit=1`);
    assert.equal(r.json.units[0].unit, 'TH-FE-2');
    const inc2 = (await srv.post('/api/v1/intake/json', report('U-2', { lon: 113.30 }))).json.incident;
    r = await srv.request('POST', `/api/v1/incidents/${inc2.id}/assign`, { body: { units: ['TH-FE-1'] }, headers: { 'if-match': `"${inc2.version}"` } });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'unit_busy');
    assert.match(r.json.error.detail, new RegExp(`incident ${inc.id}`));
    // A patrol car (110) on a fire with no 110 task: refused unless the agency is linked.
    r = await srv.request('POST', `/api/v1/incidents/${inc.id}/assign`, { body: { units: ['TH-PT-1'] }, headers: { 'if-match': `"${cur.version}"` } });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'agency_not_linked');
    r = await srv.request('POST', `/api/v1/incidents/${inc.id}/assign`, { body: { units: ['TH-PT-1'], link_agency: true }, headers: { 'if-match': `"${cur.version}"` } });
    assert.equal(r.status, 200, r.text);
    cur = r.json.incident;
    assert.ok(cur.agencies.includes('110'));
    assert.ok(cur.tasks.some((t) => t.agency === '110' && t.kind === 'patrol'));
    // The unit reports en route, then on scene: the incident follows, stamped.
    r = await srv.request('PATCH', '/api/v1/units/TH-FE-1', { body: { status: 'en_route' } });
    assert.equal(r.status, 200, r.text);
    r = await srv.request('PATCH', '/api/v1/units/TH-FE-1', { body: { status: 'on_scene' } });
    cur = (await srv.get(`/api/v1/incidents/${inc.id}`)).json;
    assert.equal(cur.status, 'on_scene');
    assert.ok(cur.times.en_route_at && cur.times.on_scene_at);
    // A unit cannot be 'dispatched' by hand, nor jump from on scene to en route.
    r = await srv.request('PATCH', '/api/v1/units/TH-FE-2', { body: { status: 'dispatched' } });
    assert.equal(r.status, 409);
    r = await srv.request('PATCH', '/api/v1/units/TH-FE-1', { body: { status: 'en_route' } });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'invalid_transition');
    // Released: available again and recommended again.
    r = await srv.request('PATCH', '/api/v1/units/TH-FE-1', { body: { status: 'available' } });
    assert.equal(r.status, 200);
    r = await srv.get(`/api/v1/incidents/${inc2.id}/recommendations?kind=fire_engine&limit=5`);
    assert.ok(r.json.units.some((u) => u.unit === 'TH-FE-1'));
    assert.deepEqual((await srv.get(`/api/v1/incidents/${inc.id}`)).json.units.map((u) => u.id), ['TH-PT-1']);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('AVL feeds authenticate like gateways: an avl key may post positions, a line key may not', async () => {
  const dataDir = tempDir('avl-auth');
  const avl = addGateway(dataDir, 'avl-119', 'avl');
  const line = addGateway(dataDir, 'gw-119', 'line119');
  const srv = await startServer({ dataDir, auth: true });
  try {
    assert.equal((await srv.post('/api/v1/units', { units: [{ id: 'A-1', agency: '119', kind: 'fire_engine' }] })).status, 200);
    const body = { positions: [{ unit: 'A-1', lon: 113.33, lat: 23.14, at: iso(Date.now()) }] };
    let r = await srv.post('/api/v1/units/positions', body);
    assert.equal(r.status, 401);
    r = await srv.post('/api/v1/units/positions', body, { authorization: `Bearer ${line.token}` });
    assert.equal(r.status, 403, r.text);
    r = await srv.post('/api/v1/units/positions', body, { authorization: `Bearer ${avl.token}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.applied, 1);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('presence: who views or edits an incident reaches the consoles that may see it; leaving clears it', async () => {
  const srv = await startServer();
  try {
    const fire = (await srv.post('/api/v1/intake/json', report('PR-1'))).json.incident;
    const police = (await srv.post('/api/v1/intake/json', report('PR-2', { line: '110', category: 'social_security', type: 'public_order', title: '聚众斗殴' }))).json.incident;
    assert.deepEqual(police.agencies, ['110']);
    const a = await Console.open(srv.port);
    a.send({ type: 'hello', last_seq: 0, user: '调度员张三' });
    const b = await Console.open(srv.port, 0);
    const c120 = await Console.open(srv.port);
    c120.send({ type: 'hello', last_seq: 0, agencies: ['120'] });
    const c110 = await Console.open(srv.port);
    c110.send({ type: 'hello', last_seq: 0, agencies: ['110'] });
    for (const c of [a, b, c120, c110]) await c.waitFor((f) => f.type === 'snapshot');

    a.send({ type: 'presence', incident: fire.id, state: 'editing' });
    const p = await b.waitFor((f) => f.type === 'presence' && f.incident === fire.id && f.viewers.length === 1);
    assert.equal(p.viewers[0].user, '调度员张三');
    assert.equal(p.viewers[0].state, 'editing');

    // The 110-only incident: its presence reaches the 110 console and the unfiltered ones, never 120's.
    a.send({ type: 'presence', incident: police.id, state: 'viewing' });
    await c110.waitFor((f) => f.type === 'presence' && f.incident === police.id && f.viewers.length === 1);
    await b.waitFor((f) => f.type === 'presence' && f.incident === police.id && f.viewers.length === 1);
    // A console that connects now learns at once who has what open, as far as it may see.
    const late110 = await Console.open(srv.port);
    late110.send({ type: 'hello', last_seq: 0, agencies: ['110'] });
    const all110 = await late110.waitFor((f) => f.type === 'presence_all');
    assert.deepEqual(all110.incidents.map((p) => [p.incident, p.viewers.map((v) => v.user)]), [[police.id, ['调度员张三']]]);
    const late120 = await Console.open(srv.port);
    late120.send({ type: 'hello', last_seq: 0, agencies: ['120'] });
    assert.deepEqual((await late120.waitFor((f) => f.type === 'presence_all')).incidents, [], 'nothing of 110 for 120');
    late110.close();
    late120.close();
    // Moving to it cleared a's presence on the fire.
    await b.waitFor((f) => f.type === 'presence' && f.incident === fire.id && f.viewers.length === 0, 5000, 'fire presence cleared');
    // A 120 console may not announce itself on it either.
    c120.send({ type: 'presence', incident: police.id, state: 'viewing' });
    assert.equal((await c120.waitFor((f) => f.type === 'error')).code, 'not_your_agency');
    b.send({ type: 'presence', incident: 999999, state: 'viewing' });
    assert.equal((await b.waitFor((f) => f.type === 'error' && f.code === 'not_found')).code, 'not_found');
    a.close();
    await b.waitFor((f) => f.type === 'presence' && f.incident === police.id && f.viewers.length === 0, 5000, 'presence cleared');
    await c110.waitFor((f) => f.type === 'presence' && f.incident === police.id && f.viewers.length === 0, 5000, 'presence cleared for 110');
    assert.ok(!c120.frames.some((f) => f.type === 'presence' && f.incident === police.id), '120 never heard of the 110 incident');
    // The fire (119 only here: no plans loaded) is not 120's either.
    assert.ok(!c120.frames.some((f) => f.type === 'presence' && f.incident === fire.id));
    b.send({ type: 'presence', incident: 'x', state: 'viewing' });
    assert.equal((await b.waitFor((f) => f.type === 'error' && f.code === 'invalid_field')).code, 'invalid_field');
    for (const c of [b, c120, c110]) c.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('statistics: counts per line and district, response intervals from stored times against targets', async () => {
  const srv = await startServer();
  try {
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await srv.post('/api/v1/intake/json', report(`ST-${i}`, { lon: 113.3 + i / 100 }))).json.incident);
    ids.push((await srv.post('/api/v1/intake/json', report('ST-120', { line: '120', category: 'public_health', type: 'medical', lon: 113.2 }))).json.incident);
    for (const inc of ids.slice(0, 3)) await patch(srv, inc.id, 1, { status: 'acknowledged' });
    await patch(srv, ids[4].id, 1, { status: 'en_route' }).then((r) => assert.equal(r.status, 409));
    await patch(srv, ids[4].id, 1, { status: 'dispatched' });
    await patch(srv, ids[4].id, 2, { status: 'en_route' });
    const r = await srv.get('/api/v1/stats');
    assert.equal(r.status, 200, r.text);
    const s = r.json;
    assert.deepEqual(s.by_line, { 119: 4, 120: 1 });
    assert.equal(s.by_hour.reduce((n, h) => n + Object.values(h.by_line).reduce((a, b) => a + b, 0), 0), 5);
    assert.equal(s.intervals.acknowledge.n, 4);
    assert.equal(s.intervals.acknowledge.target_s, 15);
    assert.equal(s.intervals.acknowledge.met, true, 'acknowledged within seconds');
    assert.equal(s.intervals.dispatch.n, 1);
    assert.equal(s.intervals.ambulance_out.n, 1);
    assert.equal(s.intervals.ambulance_out.target_pct, 95);
    assert.equal(s.intervals.on_scene.n, 0);
    assert.equal((await srv.get('/api/v1/stats?since=2026-01-01T00:00:00Z&until=2025-01-01T00:00:00Z')).status, 400);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
