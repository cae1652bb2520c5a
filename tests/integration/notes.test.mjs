// Notes on an incident (POST /api/v1/incidents/{id}/notes): journaled with
// author and time as incident.noted, pushed to the consoles that see the
// incident, in its history; the incident and its version unchanged (a note
// never conflicts with an edit). Bad notes are refused and change nothing;
// a dispatcher may note only their agency's incidents, a leader none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, tempDir, Console, report } from './harness.mjs';

const note = (srv, id, body, headers) => srv.post(`/api/v1/incidents/${id}/notes`, body, headers);
const lastSeq = async (srv) => (await srv.get('/api/v1/journal?after=0&limit=1000')).json.last_seq;

test('a note is journaled with its author, reaches the consoles and the history, and leaves the version alone', async () => {
  const srv = await startServer();
  try {
    const inc = (await srv.post('/api/v1/intake/json', report('NOTE-1'))).json.incident;
    const c = await Console.open(srv.port, 0);
    await c.waitFor((f) => f.type === 'snapshot');
    const text = '现场有燃气管道，119 请注意\n已通知燃气集团';
    const r = await note(srv, inc.id, { text });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.note.text, text);
    assert.equal(r.json.incident.version, inc.version, 'the incident did not change');
    assert.ok(r.json.seq > 0);
    const ev = await c.waitFor((f) => f.type === 'event' && f.kind === 'incident.noted');
    assert.equal(ev.seq, r.json.seq);
    assert.equal(ev.note.text, text);
    assert.equal(ev.incident.id, inc.id);
    assert.deepEqual(ev.changed, ['notes']);
    assert.match(ev.actor, /^console@/);
    const h = (await srv.get(`/api/v1/incidents/${inc.id}/history`)).json.events;
    assert.deepEqual(h.map((e) => e.kind), ['incident.created', 'incident.noted']);
    assert.equal(h[1].note.text, text);
    // An edit on the version seen before the note goes through: no conflict.
    const p = await srv.request('PATCH', `/api/v1/incidents/${inc.id}`, { body: { status: 'acknowledged' },
      headers: { 'if-match': `"${inc.version}"` } });
    assert.equal(p.status, 200, p.text);
    c.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('bad notes are refused with their reason and journal nothing', async () => {
  const srv = await startServer();
  try {
    const inc = (await srv.post('/api/v1/intake/json', report('NOTE-2'))).json.incident;
    const before = await lastSeq(srv);
    for (const [body, code, why] of [
      [{}, 'missing_field', /text is required/],
      [{ text: '' }, 'invalid_field', /1-2000 characters/],
      [{ text: ' \n\t ' }, 'invalid_field', /not only spaces/],
      [{ text: '字'.repeat(2001) }, 'invalid_field', /1-2000/],
      [{ text: 42 }, 'invalid_field', /1-2000/],
      [{ text: 'ok', by: 'me' }, 'invalid_field', /unknown field 'by'/],
    ]) {
      const r = await note(srv, inc.id, body);
      assert.equal(r.status, 422, `${JSON.stringify(body).slice(0, 40)}: ${r.text}`);
      assert.equal(r.json.error.code, code);
      assert.match(r.json.error.detail, why);
    }
    assert.equal((await note(srv, inc.id, '{"text": ')).json.error.code, 'invalid_json');
    assert.equal((await note(srv, inc.id, { text: 'a\u0000b' })).json.error.code, 'invalid_json', 'NUL refused by the parser');
    assert.equal((await note(srv, 999999, { text: 'x' })).status, 404);
    assert.equal((await srv.post(`/api/v1/incidents/${inc.id}/notes`, 'text=x', { 'content-type': 'text/plain' })).status, 415);
    assert.equal(await lastSeq(srv), before, 'nothing was journaled');
    assert.equal((await note(srv, inc.id, { text: '字'.repeat(2000) })).status, 200, '2000 characters is the limit');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('who may note: a dispatcher their agency\'s incidents, a supervisor any, a leader none', async () => {
  const dir = tempDir('notes');
  for (const [name, role, agency] of [['d120', 'dispatcher', '120'], ['d110', 'dispatcher', '110'], ['sup', 'supervisor'], ['lead', 'leader']]) {
    execFileSync(process.env.LIANDONG_BIN, ['user', 'add', name, '--role', role, ...(agency ? ['--agency', agency] : []), '--data', dir],
      { env: { ...process.env, LIANDONG_PASSWORD: 'pw for notes 1' } });
  }
  const srv = await startServer({ dataDir: dir, users: true });
  try {
    const inc = (await srv.post('/api/v1/intake/json', report('NOTE-3', { line: '120', category: 'public_health', type: 'medical' }))).json.incident;
    const as = async (name) => {
      const r = await srv.post('/api/v1/session', { name, password: 'pw for notes 1' });
      return { cookie: r.headers.get('set-cookie').split(';')[0] };
    };
    let r = await note(srv, inc.id, { text: '患者已转运' }, await as('d120'));
    assert.equal(r.status, 200, r.text);
    const h = (await srv.request('GET', `/api/v1/incidents/${inc.id}/history`, { headers: await as('sup') })).json.events;
    assert.equal(h.at(-1).actor, 'user:d120');
    r = await note(srv, inc.id, { text: 'x' }, await as('d110'));
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'not_your_agency');
    r = await note(srv, inc.id, { text: 'x' }, await as('lead'));
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'not_permitted');
    assert.equal((await note(srv, inc.id, { text: 'x' }, await as('sup'))).status, 200);
    assert.equal((await note(srv, inc.id, { text: 'x' })).status, 401);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
