// Live push: a report posted through a gateway reaches a console with its seq;
// a console that comes back with an older seq gets exactly what it missed;
// one that is too far behind (or new) gets a snapshot and then the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, Console, report } from './harness.mjs';

test('posted incident reaches a console with its seq, and resume replays exactly the missed events', async () => {
  const srv = await startServer({ args: ['--set', 'hub.ring=16'] });
  try {
    const a = await Console.open(srv.port, 0);
    const welcome = await a.waitFor((f) => f.type === 'welcome');
    assert.equal(welcome.mode, 'snapshot');
    const snap = await a.waitFor((f) => f.type === 'snapshot');
    assert.equal(snap.seq, 0);
    assert.deepEqual(snap.incidents, []);

    const r = await srv.post('/api/v1/intake/json', report('LP-1'));
    assert.equal(r.status, 201);
    const ev = await a.waitFor((f) => f.type === 'event' && f.seq === r.json.seq);
    assert.equal(ev.kind, 'incident.created');
    assert.equal(ev.incident.id, r.json.incident.id);
    assert.equal(ev.incident.ext_ref, 'LP-1');
    assert.equal(ev.actor, 'gateway:json');
    // The 201 answer carries the incident exactly as committed: as the event and as GET show it.
    assert.deepEqual(r.json.incident, ev.incident);
    assert.deepEqual(r.json.incident, (await srv.get(`/api/v1/incidents/${r.json.incident.id}`)).json);
    assert.deepEqual(Object.keys(r.json), ['incident', 'result', 'duplicate', 'seq', 'committed_at']);
    assert.equal(r.json.result, 'created');
    assert.equal(r.json.duplicate, false);
    // A retry is answered 200 duplicate with the same incident.
    const again = await srv.post('/api/v1/intake/json', report('LP-1'));
    assert.equal(again.status, 200);
    assert.equal(again.json.result, 'duplicate');
    assert.deepEqual(again.json.incident, r.json.incident);

    // The console goes away at seq 1; 40 changes happen (more than the ring of 16,
    // so part of the catch-up comes from journal pages on disk).
    const lastSeen = ev.seq;
    await a.close();
    const seqs = [];
    for (let i = 0; i < 40; i++) {
      const p = await srv.post('/api/v1/intake/json', report(`LP-M-${i}`));
      assert.equal(p.status, 201);
      seqs.push(p.json.seq);
    }
    const b = await Console.open(srv.port, lastSeen);
    const w = await b.waitFor((f) => f.type === 'welcome');
    assert.equal(w.mode, 'resume');
    await b.waitFor((f) => f.type === 'event' && f.seq === seqs.at(-1), 10000, 'last missed event');
    // Exactly the missed events, in order, no snapshot, no repeats.
    assert.deepEqual(b.events().map((f) => f.seq), seqs);
    assert.ok(!b.frames.some((f) => f.type === 'snapshot'));

    // Live again after the catch-up.
    const live = await srv.post('/api/v1/intake/json', report('LP-LIVE'));
    await b.waitFor((f) => f.type === 'event' && f.seq === live.json.seq);
    assert.deepEqual(b.events().map((f) => f.seq), [...seqs, live.json.seq]);
    await b.close();

    // A new console gets all 42 open incidents in its snapshot at the current seq.
    const c = await Console.open(srv.port, 0);
    const s2 = await c.waitFor((f) => f.type === 'snapshot');
    assert.equal(s2.seq, live.json.seq);
    assert.equal(s2.incidents.length, 42);
    await c.close();

    const m = await srv.metrics();
    assert.ok(m.liandong_ws_catchup_pages_total >= 1, 'catch-up read journal pages');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('two consoles see the same changes in the same order, including updates', async () => {
  const srv = await startServer();
  try {
    const a = await Console.open(srv.port, 0);
    const b = await Console.open(srv.port, 0);
    await a.waitFor((f) => f.type === 'snapshot');
    await b.waitFor((f) => f.type === 'snapshot');
    const r = await srv.post('/api/v1/intake/json', report('TWO-1'));
    const id = r.json.incident.id;
    const p = await srv.request('PATCH', `/api/v1/incidents/${id}`,
      { body: { status: 'acknowledged' }, headers: { 'if-match': '"1"' } });
    assert.equal(p.status, 200);
    assert.equal(p.json.incident.version, 2);
    for (const c of [a, b]) {
      const ev = await c.waitFor((f) => f.type === 'event' && f.seq === p.json.seq);
      assert.deepEqual(ev.changed, ['status']);
      assert.equal(ev.incident.status, 'acknowledged');
      assert.deepEqual(c.events().map((f) => f.seq), [r.json.seq, p.json.seq]);
    }
    await a.close();
    await b.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('a console resuming from a seq further back than replay_max gets a snapshot', async () => {
  const srv = await startServer({ args: ['--set', 'hub.replay_max=5'] });
  try {
    for (let i = 0; i < 10; i++) await srv.post('/api/v1/intake/json', report(`FAR-${i}`));
    const c = await Console.open(srv.port, 2);
    const w = await c.waitFor((f) => f.type === 'welcome');
    assert.equal(w.mode, 'snapshot');
    const s = await c.waitFor((f) => f.type === 'snapshot');
    assert.equal(s.seq, 10);
    assert.equal(s.incidents.length, 10);
    // A seq from the future (e.g. the console outlived a restored database) also resyncs.
    const d = await Console.open(srv.port, 999);
    assert.equal((await d.waitFor((f) => f.type === 'welcome')).mode, 'snapshot');
    await c.close();
    await d.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
