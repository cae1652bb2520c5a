// Who may see, change and join a conference (sign-in on): supervisors and
// admins create and add sources, leaders may link incidents, dispatchers
// see a conference only when it is linked to an incident of their agency
// (REST, the conference frames on their console, rtc.join); the actor of each
// change is the signed-in user. No media is needed: the source is unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { startServer, tempDir, report } from './harness.mjs';

const BIN = process.env.LIANDONG_BIN;
const PW = 'correct horse battery';

function user(dataDir, args) {
  execFileSync(BIN, ['user', ...args, '--data', dataDir], { env: { ...process.env, LIANDONG_PASSWORD: PW } });
}

async function login(srv, name) {
  const r = await srv.post('/api/v1/session', { name, password: PW });
  return (r.headers.get('set-cookie') || '').split(';')[0];
}

const req = (srv, cookie, method, p, body) => srv.request(method, p, { body, headers: { cookie } });

// A signed-in console: collects frames.
function consoleAs(srv, cookie) {
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'liandong.v1', { headers: { cookie } });
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
  const opened = new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
  const waitFor = async (pred, ms = 15000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const hit = frames.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out; frames: ${JSON.stringify(frames.slice(-5))}`);
  };
  return { ws, frames, opened, waitFor, send: (o) => ws.send(JSON.stringify(o)) };
}

test('conference roles, dispatcher visibility by linked agency, actors', async () => {
  const dataDir = tempDir('mroles');
  user(dataDir, ['add', 'd120', '--role', 'dispatcher', '--agency', '120']);
  user(dataDir, ['add', 'd110', '--role', 'dispatcher', '--agency', '110']);
  user(dataDir, ['add', 'sup', '--role', 'supervisor']);
  user(dataDir, ['add', 'lead', '--role', 'leader']);
  const srv = await startServer({ dataDir, users: true, media: true });
  try {
    const c = {};
    for (const n of ['d120', 'd110', 'sup', 'lead']) c[n] = await login(srv, n);
    const inc = (await srv.post('/api/v1/intake/json', report('MR-1', { line: '120', category: 'public_health', type: 'medical' }))).json.incident;
    const body = { name: '会商', sources: ['rtsp://127.0.0.1:9/none'] };

    // Creating: supervisors (and admins), not leaders or dispatchers; nobody signed out.
    assert.equal((await srv.post('/api/v1/conferences', body)).status, 401);
    for (const who of ['d120', 'lead']) {
      const r = await req(srv, c[who], 'POST', '/api/v1/conferences', body);
      assert.equal(r.status, 403, who);
      assert.equal(r.json.error.code, 'not_permitted');
    }
    const made = await req(srv, c.sup, 'POST', '/api/v1/conferences', body);
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.created_by, 'user:sup');
    const id = made.json.id;

    // Unlinked: dispatchers see nothing of it; leaders and supervisors do.
    const d120 = consoleAs(srv, c.d120), d110 = consoleAs(srv, c.d110);
    await Promise.all([d120.opened, d110.opened]);
    d120.send({ type: 'hello', last_seq: 0 });
    d110.send({ type: 'hello', last_seq: 0 });
    await d120.waitFor((f) => f.type === 'snapshot');
    await d110.waitFor((f) => f.type === 'snapshot');
    assert.deepEqual((await req(srv, c.d120, 'GET', '/api/v1/conferences')).json.conferences, []);
    assert.equal((await req(srv, c.d120, 'GET', `/api/v1/conferences/${id}`)).status, 404);
    assert.equal((await req(srv, c.lead, 'GET', '/api/v1/conferences')).json.conferences.length, 1);
    d120.send({ type: 'rtc.join', conference: id });
    assert.equal((await d120.waitFor((f) => f.type === 'rtc.error')).code, 'not_found');

    // Dispatchers may not link or add sources; a leader links the 120 incident.
    assert.equal((await req(srv, c.d120, 'POST', `/api/v1/conferences/${id}/incidents`, { incident: inc.id })).status, 404);
    assert.equal((await req(srv, c.lead, 'POST', `/api/v1/conferences/${id}/sources`, { uri: 'rtsp://h/x' })).status, 403);
    const linked = await req(srv, c.lead, 'POST', `/api/v1/conferences/${id}/incidents`, { incident: inc.id });
    assert.equal(linked.status, 200, linked.text);
    assert.equal(linked.json.scope, '120');

    // Now the 120 dispatcher sees it (REST and the journaled event on the console), 110 still not.
    const ev = await d120.waitFor((f) => f.type === 'event' && f.kind === 'conference.linked');
    assert.equal(ev.actor, 'user:lead');
    assert.equal((await req(srv, c.d120, 'GET', `/api/v1/conferences/${id}`)).status, 200);
    assert.equal((await req(srv, c.d110, 'GET', `/api/v1/conferences/${id}`)).status, 404);
    // Its state frames reach the 120 console, never the 110 one.
    await d120.waitFor((f) => f.type === 'conference' && f.conference.id === id, 30000);
    assert.equal(d110.frames.some((f) => f.type === 'conference' || (f.type === 'event' && f.kind.startsWith('conference.'))), false);
    d110.send({ type: 'rtc.join', conference: id });
    assert.equal((await d110.waitFor((f) => f.type === 'rtc.error')).code, 'not_found');

    // Only supervisors and admins close one; the close is journaled with its actor.
    assert.equal((await req(srv, c.d120, 'POST', `/api/v1/conferences/${id}/close`)).status, 403);
    assert.equal((await req(srv, c.lead, 'POST', `/api/v1/conferences/${id}/close`)).status, 403);
    const closed = await req(srv, c.sup, 'POST', `/api/v1/conferences/${id}/close`);
    assert.equal(closed.status, 200, closed.text);
    const cev = await d120.waitFor((f) => f.type === 'event' && f.kind === 'conference.closed');
    assert.equal(cev.actor, 'user:sup');
    d120.ws.close();
    d110.ws.close();
  } finally {
    const { code } = await srv.stop();
    srv.cleanup();
    assert.equal(code, 0);
  }
});
