// Gateways end to end, through HTTP against the real binary: each line's
// example payload, every CAP fixture (an Update acting on the alert it
// references), the EIDO sample imported and exported to a second centre,
// and the gateway credentials: keys, the adapter a key may post to, rate
// limits, HMAC signatures and replays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tempDir, addGateway, report } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = (p) => readFileSync(path.join(here, '../fuzz/corpus', p), 'utf8');
const FIXTURES = process.env.LIANDONG_FIXTURES || path.join(here, '../../../shared/fixtures');
const fixture = (p) => readFileSync(path.join(FIXTURES, p), 'utf8');
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

test('each line adapter takes its example payload; a retry is a duplicate; a later version updates', async () => {
  const srv = await startServer();
  try {
    for (const line of ['110', '119', '120', '122']) {
      const body = corpus(`line${line}/example.json`);
      const r = await srv.post(`/api/v1/intake/line${line}`, body);
      assert.equal(r.status, 201, `line${line}: ${r.text}`);
      assert.equal(r.json.incident.line, line);
      assert.equal(r.json.incident.source, `line${line}`);
      assert.ok(r.json.incident.title.length > 0);
      const again = await srv.post(`/api/v1/intake/line${line}`, body);
      assert.equal(again.status, 200);
      assert.equal(again.json.result, 'duplicate');
      assert.equal(again.json.incident.id, r.json.incident.id);
      // A wrong line's document is refused with a clear code, nothing stored.
      const other = line === '110' ? '119' : '110';
      const wrong = await srv.post(`/api/v1/intake/line${other}`, body);
      assert.equal(wrong.status, 422);
      assert.match(wrong.json.error.detail, new RegExp(`line${line}`));
    }
    const v1 = JSON.parse(corpus('line119/example.json'));
    const later = await srv.post('/api/v1/intake/line119', { ...v1, version: 2, trapped: 0, summary: '明火已扑灭，无人被困。' });
    assert.equal(later.status, 200);
    assert.equal(later.json.result, 'updated');
    assert.equal(later.json.incident.description, '明火已扑灭，无人被困。');
    assert.ok(later.json.seq > 0);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('CAP fixtures behave as SOURCES.md says; an Update acts on the alert it references', async () => {
  const srv = await startServer();
  const cap = { 'content-type': 'application/cap+xml' };
  try {
    const update = fixture('cap/cn-baoding-thunder-update.xml');
    // The alert the Update references, as the bureau sent it earlier.
    const original = update
      .replace('<identifier>13060041600000_20240712213138</identifier>', '<identifier>13060041600000_20240712073642</identifier>')
      .replace('<msgType>Update</msgType>', '<msgType>Alert</msgType>')
      .replace(/<references>[^<]*<\/references>/, '');
    const a = await srv.post('/api/v1/intake/cap', original, cap);
    assert.equal(a.status, 201, a.text);
    const u = await srv.post('/api/v1/intake/cap', update, cap);
    assert.equal(u.status, 200, u.text);
    assert.equal(u.json.result, 'updated');
    assert.equal(u.json.incident.id, a.json.incident.id, 'the Update acted on the referenced alert');
    const details = u.json.incident.details;
    assert.ok(JSON.stringify(details).includes('zh-CN') && JSON.stringify(details).includes('en-US'),
      'both language blocks kept');

    for (const f of ['cap/us-nws-thunderstorm-polygon.cap', 'cap/us-dhs-hsas-orange.cap']) {
      const r = await srv.post('/api/v1/intake/cap', fixture(f), cap);
      assert.equal(r.status, 201, `${f}: ${r.text}`);
    }
    const nws = (await srv.get('/api/v1/incidents?source=cap&limit=10')).json.incidents
      .find((i) => JSON.stringify(i.details).includes('KSTO1055887203'));
    assert.ok(nws.lon < -100 && nws.lat > 30, 'polygon centroid in lon/lat order');
    assert.ok(JSON.stringify(nws.details).includes('polygon'), 'area polygon stored');

    const before = (await srv.metrics()).liandong_journal_seq;
    const bad = await srv.post('/api/v1/intake/cap', fixture('cap/invalid-missing-scope.cap'), cap);
    assert.equal(bad.status, 422);
    assert.match(bad.json.error.detail, /scope/);
    const attack = await srv.post('/api/v1/intake/cap', fixture('cap/attack-xxe-xinclude.cap'), cap);
    assert.ok([400, 422].includes(attack.status), attack.text);
    assert.doesNotMatch(attack.text, /root:|passwd/);
    const json = await srv.post('/api/v1/intake/cap', '{"not":"xml"}', { 'content-type': 'application/json' });
    assert.equal(json.status, 415);
    assert.equal((await srv.metrics()).liandong_journal_seq, before, 'refused alerts stored nothing');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('EIDO: the NENA sample imports; GET .../eido exports one another centre imports', async () => {
  const a = await startServer();
  const b = await startServer();
  try {
    const r = await a.post('/api/v1/intake/eido', fixture('eido/nena-sample-call-transfer.json'));
    assert.equal(r.status, 201, r.text);
    const out = await a.get(`/api/v1/incidents/${r.json.incident.id}/eido`);
    assert.equal(out.status, 200);
    assert.ok(out.json.$id || out.json.incidentTrackingIdentifier, 'a tracking identifier');
    const back = await b.post('/api/v1/intake/eido', out.text);
    assert.equal(back.status, 201, back.text);
    for (const k of ['title', 'line', 'category', 'priority'])
      assert.equal(back.json.incident[k], r.json.incident[k], k);
    assert.equal((await a.get('/api/v1/incidents/99999/eido')).status, 404);
    // Every export is audited before it is handed out: who, which version, from where.
    const audit = (await a.get('/api/v1/audit?limit=100')).json.entries.filter((e) => e.action === 'export.eido');
    assert.equal(audit.length, 1, 'one export, one row (the 404 exported nothing)');
    assert.equal(audit[0].target, `incident:${r.json.incident.id}`);
    assert.equal(audit[0].address, '127.0.0.1');
    assert.ok(audit[0].actor.length > 0);
    const detail = typeof audit[0].detail === 'string' ? JSON.parse(audit[0].detail) : audit[0].detail;
    assert.deepEqual(detail, { version: r.json.incident.version, bytes: Buffer.byteLength(out.text) });
  } finally {
    await a.stop();
    await b.stop();
    a.cleanup();
    b.cleanup();
  }
});

test('gateway keys: required, bound to one adapter, rate-limited, revocable; signatures and replays', async () => {
  const dir = tempDir('keys');
  const ems = addGateway(dir, 'ems-gz', 'json', ['--rate', '5', '--burst', '5']);
  const fire = addGateway(dir, 'fire-gz', 'line119', ['--require-signature']);
  const srv = await startServer({ dataDir: dir, auth: true });
  const bearer = (t) => ({ authorization: `Bearer ${t}` });
  try {
    assert.equal((await srv.post('/api/v1/intake/json', report('K-0'))).json.error.code, 'unauthorized');
    assert.equal((await srv.post('/api/v1/intake/json', report('K-0'), bearer('ldg_ems-gz_forged'))).status, 401);
    const ok = await srv.post('/api/v1/intake/json', report('K-1'), bearer(ems.token));
    assert.equal(ok.status, 201);
    const ev = (await srv.get(`/api/v1/incidents/${ok.json.incident.id}/history`)).json.events[0];
    assert.equal(ev.actor, 'gateway:ems-gz', 'attributed to the gateway');
    const other = await srv.post('/api/v1/intake/line119', corpus('line119/example.json'), bearer(ems.token));
    assert.equal(other.status, 403);
    assert.equal(other.json.error.code, 'forbidden');

    // Rate: burst 5 at 5/s; the rest of a quick burst gets 429 with Retry-After.
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      srv.post('/api/v1/intake/json', report(`K-R${i}`), bearer(ems.token))));
    const limited = burst.filter((x) => x.status === 429);
    assert.ok(limited.length >= 3, `429s: ${limited.length}`);
    assert.equal(limited[0].json.error.code, 'rate_limited');
    assert.ok(Number(limited[0].headers.get('retry-after')) >= 1);

    // Signatures: required for fire-gz; a replay or a changed body is refused.
    const body = corpus('line119/example.json');
    const sign = (ts, b) => `sha256=${createHmac('sha256', fire.hmac_secret).update(`${ts}.${b}`).digest('hex')}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const headers = { ...bearer(fire.token), 'x-liandong-timestamp': ts, 'x-liandong-signature': sign(ts, body) };
    assert.equal((await srv.post('/api/v1/intake/line119', body, bearer(fire.token))).json.error.code, 'bad_signature');
    assert.equal((await srv.post('/api/v1/intake/line119', body, headers)).status, 201);
    const replay = await srv.post('/api/v1/intake/line119', body, headers);
    assert.equal(replay.status, 409);
    assert.equal(replay.json.error.code, 'replayed');
    const tampered = body.replace('"trapped": 3', '"trapped": 4');
    assert.equal((await srv.post('/api/v1/intake/line119', tampered, headers)).json.error.code, 'bad_signature');
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    assert.equal((await srv.post('/api/v1/intake/line119', body,
      { ...bearer(fire.token), 'x-liandong-timestamp': old, 'x-liandong-signature': sign(old, body) })).status, 401);

    // Keys added or revoked while the server runs take effect within seconds.
    const late = addGateway(dir, 'police-gz', 'line110');
    let st = 0;
    for (let i = 0; i < 40 && st !== 201; i++, await wait(100))
      st = (await srv.post('/api/v1/intake/line110', corpus('line110/example.json'), bearer(late.token))).status;
    assert.equal(st, 201, 'a new key works without a restart');
    execFile(['gateway', 'revoke', 'police-gz', '--data', dir]);
    for (let i = 0; i < 40 && st !== 401; i++, await wait(100))
      st = (await srv.post('/api/v1/intake/line110', corpus('line110/minimal.json'), bearer(late.token))).status;
    assert.equal(st, 401, 'a revoked key stops working');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

import { execFileSync } from 'node:child_process';
function execFile(args) { return execFileSync(process.env.LIANDONG_BIN, args).toString(); }
