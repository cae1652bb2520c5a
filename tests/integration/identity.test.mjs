// Identity and roles, black-box: users made with the CLI, sign-in with an
// argon2id-checked password, HttpOnly SameSite cookies, the role matrix on
// every route, agency visibility for dispatchers (REST and WebSocket), session
// expiry, Origin checks, sign-in throttling, disabling a user, the audit log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { startServer, tempDir, report } from './harness.mjs';

const BIN = process.env.LIANDONG_BIN;
const PW = 'correct horse battery';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function user(dataDir, args, password = PW) {
  return execFileSync(BIN, ['user', ...args, '--data', dataDir], { env: { ...process.env, LIANDONG_PASSWORD: password } }).toString();
}

function makeUsers(dataDir) {
  user(dataDir, ['add', 'd120', '--role', 'dispatcher', '--agency', '120', '--display', '急救调度员']);
  user(dataDir, ['add', 'd110', '--role', 'dispatcher', '--agency', '110']);
  user(dataDir, ['add', 'sup', '--role', 'supervisor', '--display', '值班长']);
  user(dataDir, ['add', 'lead', '--role', 'leader']);
  user(dataDir, ['add', 'adm', '--role', 'admin']);
}

async function login(srv, name, password = PW) {
  const r = await srv.post('/api/v1/session', { name, password });
  const set = r.headers.get('set-cookie') || '';
  return { ...r, cookie: set.split(';')[0], set };
}

const as = (srv, cookie) => ({
  req: (method, p, body, headers = {}) => srv.request(method, p, { body, headers: { cookie, ...headers } }),
});

test('sign-in: bad credentials refused, a session cookie that is HttpOnly and SameSite, CLI refusals', async () => {
  const dataDir = tempDir('id1');
  makeUsers(dataDir);
  assert.throws(() => user(dataDir, ['add', 'x1', '--role', 'dispatcher']), 'a dispatcher needs an agency');
  assert.throws(() => user(dataDir, ['add', 'x2', '--role', 'boss']), 'unknown role');
  assert.throws(() => user(dataDir, ['add', 'x3', '--role', 'leader'], 'short'), 'short password');
  assert.throws(() => user(dataDir, ['add', 'sup', '--role', 'leader']), 'exists already');
  const list = JSON.parse(user(dataDir, ['list']));
  assert.deepEqual(list.map((u) => u.name), ['adm', 'd110', 'd120', 'lead', 'sup']);
  const srv = await startServer({ dataDir, users: true });
  try {
    assert.equal((await srv.get('/api/v1/incidents')).status, 401);
    assert.equal((await srv.get('/api/v1/incidents')).json.error.code, 'sign_in_required');
    let r = await login(srv, 'sup', 'wrong password!');
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'bad_credentials');
    r = await login(srv, 'nobody', PW);
    assert.equal(r.status, 401, 'an unknown name looks the same as a wrong password');
    r = await login(srv, 'sup');
    assert.equal(r.status, 200, r.text);
    assert.match(r.set, /ld_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43\d{3}/);
    assert.equal(r.json.user.role, 'supervisor');
    const me = await as(srv, r.cookie).req('GET', '/api/v1/session');
    assert.equal(me.json.user.display, '值班长');
    // Sessions survive a restart (they are committed before the answer).
    await srv.stop();
    const again = await startServer({ dataDir, users: true });
    try {
      assert.equal((await as(again, r.cookie).req('GET', '/api/v1/incidents')).status, 200);
      const out = await as(again, r.cookie).req('DELETE', '/api/v1/session');
      assert.equal(out.status, 200);
      assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
      assert.equal((await as(again, r.cookie).req('GET', '/api/v1/incidents')).status, 401, 'signed out');
    } finally {
      await again.stop();
    }
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('the role matrix: each role against each route', async () => {
  const dataDir = tempDir('id2');
  makeUsers(dataDir);
  const srv = await startServer({ dataDir, users: true });
  try {
    const c = {};
    for (const n of ['d120', 'sup', 'lead', 'adm']) c[n] = (await login(srv, n)).cookie;
    // An incident that concerns 120, so the dispatcher's visibility is not what is tested here.
    const inc = (await srv.post('/api/v1/intake/json', report('RM-1', { line: '120', category: 'public_health', type: 'medical' }))).json.incident;
    // [method, path, body, roles allowed]; everything else must be 403 not_permitted.
    const D = 'd120', S = 'sup', L = 'lead', A = 'adm';
    const matrix = [
      ['GET', '/api/v1/incidents', undefined, [D, S, L, A]],
      ['POST', '/api/v1/incidents', { line: '120', category: 'public_health', priority: 2, title: 't' }, [D, S]],
      ['GET', `/api/v1/incidents/${inc.id}`, undefined, [D, S, L, A]],
      ['GET', `/api/v1/incidents/${inc.id}/history`, undefined, [D, S, L, A]],
      ['PATCH', `/api/v1/incidents/${inc.id}`, { description: 'x' }, [D, S]],
      ['POST', `/api/v1/incidents/${inc.id}/alarm`, { level: 2 }, [D, S]],
      ['GET', '/api/v1/units', undefined, [D, S, L, A]],
      ['POST', '/api/v1/units', { units: [{ id: 'RM-U', agency: '120', kind: 'ambulance' }] }, [S, A]],
      ['POST', '/api/v1/units/positions', { positions: [{ unit: 'RM-U', lon: 113.3, lat: 23.1, at: new Date().toISOString() }] }, [S, A]],
      ['GET', '/api/v1/plans', undefined, [D, S, L, A]],
      ['POST', '/api/v1/plans/reload', {}, [S, A]],
      ['GET', '/api/v1/stats', undefined, [D, S, L, A]],
      ['GET', '/api/v1/journal', undefined, [S, L, A]],
      ['GET', '/api/v1/audit', undefined, [S, A]],
      ['GET', '/api/v1/gis/district?lon=113.3&lat=23.1', undefined, [D, S, L, A]],
      ['GET', '/api/v1/adapters', undefined, [D, S, L, A]],
    ];
    let checked = 0;
    for (const [method, p, body, allowed] of matrix) {
      for (const who of [D, S, L, A]) {
        const v = (await srv.get(`/api/v1/incidents/${inc.id}`)).json?.version;
        const headers = { 'if-match': `"${v}"` };
        const r = await as(srv, c[who]).req(method, p, body, headers);
        if (allowed.includes(who)) {
          assert.ok(r.status !== 401 && r.status !== 403, `${who} ${method} ${p}: ${r.status} ${r.text}`);
        } else {
          assert.equal(r.status, 403, `${who} ${method} ${p}: ${r.text}`);
          assert.equal(r.json.error.code, 'not_permitted');
        }
        checked++;
      }
    }
    assert.equal(checked, matrix.length * 4);
    // Anonymous: only the public routes.
    for (const p of ['/healthz', '/api/v1/openapi.json']) assert.equal((await srv.get(p)).status, 200);
    assert.equal((await srv.get('/api/v1/units')).status, 401);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('a 120 dispatcher cannot read or change a 110-only incident, over REST or WebSocket', async () => {
  const dataDir = tempDir('id3');
  makeUsers(dataDir);
  const srv = await startServer({ dataDir, users: true });
  try {
    const d120 = (await login(srv, 'd120')).cookie;
    const theft = (await srv.post('/api/v1/intake/json', report('VIS-110', { line: '110', category: 'social_security', type: 'theft' }))).json;
    const cardiac = (await srv.post('/api/v1/intake/json', report('VIS-120', { line: '120', category: 'public_health', type: 'medical' }))).json;
    const me = as(srv, d120);
    let r = await me.req('GET', `/api/v1/incidents/${theft.incident.id}`);
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'not_your_agency');
    assert.equal((await me.req('GET', `/api/v1/incidents/${theft.incident.id}/history`)).status, 403);
    r = await me.req('PATCH', `/api/v1/incidents/${theft.incident.id}`, { status: 'acknowledged' }, { 'if-match': '"1"' });
    assert.equal(r.status, 403);
    assert.equal((await srv.get(`/api/v1/incidents/${theft.incident.id}`)).status, 401);
    const list = await me.req('GET', '/api/v1/incidents');
    assert.deepEqual(list.json.incidents.map((i) => i.id), [cardiac.incident.id]);
    assert.equal((await me.req('GET', `/api/v1/incidents/${cardiac.incident.id}`)).status, 200);
    // The console: asking for 110 as well changes nothing; it sees 120's events only.
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'liandong.v1', { headers: { cookie: d120 } });
    const frames = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
    ws.send(JSON.stringify({ type: 'hello', last_seq: 0, agencies: ['110', '120'] }));
    for (let i = 0; i < 50 && !frames.some((f) => f.type === 'snapshot'); i++) await sleep(50);
    const snap = frames.find((f) => f.type === 'snapshot');
    assert.deepEqual(snap.incidents.map((i) => i.id), [cardiac.incident.id]);
    const more = (await srv.post('/api/v1/intake/json', report('VIS-110b', { line: '110', category: 'social_security', type: 'theft', lon: 113.2 }))).json;
    const mine = (await srv.post('/api/v1/intake/json', report('VIS-120b', { line: '120', category: 'public_health', type: 'medical', lon: 113.25 }))).json;
    for (let i = 0; i < 50 && !frames.some((f) => f.seq === mine.seq); i++) await sleep(50);
    assert.deepEqual(frames.filter((f) => f.type === 'event').map((f) => f.seq), [mine.seq]);
    assert.ok(!frames.some((f) => f.seq === more.seq));
    ws.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('sessions expire; another site\'s pages are refused; failed sign-ins are throttled; a disabled user is out', async () => {
  const dataDir = tempDir('id4');
  makeUsers(dataDir);
  const srv = await startServer({ dataDir, users: true, args: ['--set', 'console.session_ttl_s=3'] });
  try {
    const sup = await login(srv, 'sup');
    const me = as(srv, sup.cookie);
    assert.equal((await me.req('GET', '/api/v1/units')).status, 200);
    // A page of another site: the browser sends its Origin; the cookie does not make it ours.
    let r = await me.req('POST', '/api/v1/incidents', { line: '110', category: 'other', priority: 3, title: 'csrf' }, { origin: 'http://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'bad_origin');
    r = await me.req('POST', '/api/v1/incidents', { line: '110', category: 'other', priority: 3, title: 'ok' }, { origin: `http://127.0.0.1:${srv.port}` });
    assert.equal(r.status, 201, r.text);
    const opens = async (headers) => new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'liandong.v1', { headers });
      ws.on('open', () => { ws.close(); resolve(true); });
      ws.on('error', () => resolve(false));
      ws.on('unexpected-response', (req, res) => { res.resume(); req.destroy(); resolve(res.statusCode); });
    });
    assert.equal(await opens({ cookie: sup.cookie }), true);
    assert.equal(await opens({ cookie: sup.cookie, origin: 'http://evil.example' }), 403, 'cross-site console');
    assert.equal(await opens({}), 401, 'no console without a session');
    // Expiry: 3 s after sign-in the cookie is worth nothing.
    await sleep(3300);
    assert.equal((await me.req('GET', '/api/v1/units')).status, 401);
    assert.equal(await opens({ cookie: sup.cookie }), 401);

    // Disabling a user signs them out within seconds, their console included.
    const d = await login(srv, 'd120');
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'liandong.v1', { headers: { cookie: d.cookie } });
    const closed = new Promise((res) => ws.on('close', (code) => res(code)));
    await new Promise((res) => ws.on('open', res));
    user(dataDir, ['disable', 'd120']);
    assert.equal(await Promise.race([closed, sleep(8000).then(() => 'still open')]), 1008);
    assert.equal((await as(srv, d.cookie).req('GET', '/api/v1/units')).status, 401);
    assert.equal((await login(srv, 'd120')).status, 401);
    user(dataDir, ['enable', 'd120']);

    // Throttling: five failures, then even the right password waits (per name and per
    // address: from this address nobody signs in for a while).
    const adm = await login(srv, 'adm');
    // (the disabled d120's attempt above was this address's first failure)
    for (let i = 0; i < 4; i++) assert.equal((await login(srv, 'lead', 'not the password')).status, 401);
    r = await login(srv, 'lead');
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal((await login(srv, 'sup')).status, 429, 'the address is throttled too');

    // The audit log: sign-ins, failures, the CLI's changes, with addresses.
    const a = (await as(srv, adm.cookie).req('GET', '/api/v1/audit?limit=1000')).json.entries;
    const has = (action, target) => a.some((e) => e.action === action && e.target === target);
    assert.ok(has('user.add', 'd120') && has('user.disable', 'd120'));
    assert.ok(has('login', 'sup') && has('login.failed', 'lead'));
    assert.equal(a.find((e) => e.action === 'login' && e.target === 'sup').address, '127.0.0.1');
    assert.equal(a.find((e) => e.action === 'login.failed').actor.startsWith('anonymous@'), true);
    // Each start, with who ran it and the settings that differ from the defaults.
    const start = a.find((e) => e.action === 'server.start');
    assert.match(start.actor, /^server:/);
    const settings = typeof start.detail === 'string' ? JSON.parse(start.detail) : start.detail;
    assert.equal(settings['intake.auth'], 'open');
    assert.equal(settings['console.auth'], undefined, 'a default is not listed');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('TLS: HTTPS and WSS with the configured certificate, plain HTTP redirected, Secure cookies', async () => {
  const dataDir = tempDir('id5');
  makeUsers(dataDir);
  const cert = path.join(dataDir, 'cert.pem'), key = path.join(dataDir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const srv = await startServer({ dataDir, users: true, args: ['--set', `tls.cert=${cert}`, '--set', `tls.key=${key}`] });
  const ca = readFileSync(cert);
  // The certificate is verified against itself as the CA: a real TLS handshake, no shortcuts.
  const get = (url, opts = {}) => new Promise((resolve, reject) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.request(url, { ca, ...opts }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (opts.body) req.write(opts.body);
    req.end();
  });
  try {
    const h = await get(`https://127.0.0.1:${srv.port}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(JSON.parse(h.body).status, 'ok');
    const plain = await get(`http://127.0.0.1:${srv.port}/healthz`);
    assert.equal(plain.status, 301);
    assert.match(plain.headers.location, /^https:\/\//);
    const body = JSON.stringify({ name: 'sup', password: PW });
    const li = await get(`https://127.0.0.1:${srv.port}/api/v1/session`, {
      method: 'POST', body, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    assert.equal(li.status, 200, li.body);
    assert.match(li.headers['set-cookie'][0], /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const cookie = li.headers['set-cookie'][0].split(';')[0];
    const ws = new WebSocket(`wss://127.0.0.1:${srv.port}/ws`, 'liandong.v1', { ca, headers: { cookie } });
    const snap = await new Promise((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', last_seq: 0 })));
      ws.on('message', (d) => { const f = JSON.parse(d.toString()); if (f.type === 'snapshot') resolve(f); });
      ws.on('error', reject);
    });
    assert.ok(Array.isArray(snap.incidents));
    ws.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('each user has a request rate: beyond its burst, 429 with Retry-After; other users unaffected', async () => {
  const dataDir = tempDir('id6');
  makeUsers(dataDir);
  const srv = await startServer({ dataDir, users: true, args: ['--set', 'console.rate=1', '--set', 'console.burst=3'] });
  try {
    const lead = (await login(srv, 'lead')).cookie, sup = (await login(srv, 'sup')).cookie;
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await as(srv, lead).req('GET', '/api/v1/units')).status);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    const r = await as(srv, lead).req('GET', '/api/v1/units');
    assert.equal(r.json.error.code, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal((await as(srv, sup).req('GET', '/api/v1/units')).status, 200, 'another user has their own');
    await sleep(1100);
    assert.equal((await as(srv, lead).req('GET', '/api/v1/units')).status, 200, 'refilled');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
