// Bad input gets a clear error with a stable machine-readable code and changes
// nothing: after every refused request the journal is where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { startServer, Console, report, rawHttp, postInHalves } from './harness.mjs';

async function seq(srv) {
  return (await srv.metrics()).liandong_journal_seq;
}

test('HTTP bad input: each refused with status, code and message, nothing stored', async () => {
  const srv = await startServer({ args: ['--set', 'http.max_body=64K'] });
  try {
    const ok = await srv.post('/api/v1/intake/json', report('BAD-BASE'));
    assert.equal(ok.status, 201);
    const before = await seq(srv);
    const cases = [
      ['malformed JSON', () => srv.post('/api/v1/intake/json', '{"line":"119",'), 400, 'invalid_json'],
      ['not an object', () => srv.post('/api/v1/intake/json', '[1,2]'), 422, 'invalid_field'],
      ['wrong type', () => srv.post('/api/v1/intake/json', report('B1', { priority: 'high' })), 422, 'invalid_field'],
      ['missing title', () => srv.post('/api/v1/intake/json', report('B2', { title: undefined })), 422, 'missing_field'],
      ['missing ext_ref', () => srv.post('/api/v1/intake/json', report(undefined)), 422, 'missing_field'],
      ['swapped lon/lat', () => srv.post('/api/v1/intake/json', report('B3', { lon: 23.1, lat: 113.3 })), 422, 'invalid_field'],
      ['unknown field', () => srv.post('/api/v1/intake/json', report('B4', { colour: 'red' })), 422, 'invalid_field'],
      ['bad date', () => srv.post('/api/v1/intake/json', report('B5', { reported_at: '24/11/2026' })), 422, 'invalid_field'],
      ['unknown adapter', () => srv.post('/api/v1/intake/fax', report('B6')), 404, 'unknown_adapter'],
      ['wrong content type', () => srv.post('/api/v1/intake/json', JSON.stringify(report('B7')), { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
      ['oversized body', () => srv.post('/api/v1/intake/json', report('B8', { description: 'x'.repeat(70000) })), 413, 'payload_too_large'],
      ['unknown route', () => srv.get('/api/v1/nothing'), 404, 'no_route'],
      ['bad query', () => srv.get('/api/v1/incidents?status=burning'), 400, 'invalid_query'],
      ['bad limit', () => srv.get('/api/v1/incidents?limit=0'), 400, 'invalid_query'],
      ['patch without If-Match', () => srv.request('PATCH', `/api/v1/incidents/${ok.json.incident.id}`, { body: { priority: 2 } }), 428, 'precondition_required'],
      ['patch stale version', () => srv.request('PATCH', `/api/v1/incidents/${ok.json.incident.id}`, { body: { priority: 2 }, headers: { 'if-match': '"7"' } }), 412, 'version_conflict'],
      ['patch creation-only field', () => srv.request('PATCH', `/api/v1/incidents/${ok.json.incident.id}`, { body: { line: '110' }, headers: { 'if-match': '"1"' } }), 422, 'invalid_field'],
      ['patch unknown incident', () => srv.request('PATCH', '/api/v1/incidents/999999', { body: { priority: 2 }, headers: { 'if-match': '"1"' } }), 404, 'not_found'],
      ['get unknown incident', () => srv.get('/api/v1/incidents/999999'), 404, 'not_found'],
      ['get bad id', () => srv.get('/api/v1/incidents/abc'), 404, 'not_found'],
    ];
    for (const [name, run, status, code] of cases) {
      const r = await run();
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.equal(r.json?.error?.code, code, `${name}: ${r.text}`);
      assert.ok(r.json.error.message.length > 0, `${name}: a human message`);
    }
    // The stale edit shows the current incident instead of failing silently.
    const stale = await srv.request('PATCH', `/api/v1/incidents/${ok.json.incident.id}`,
      { body: { priority: 2 }, headers: { 'if-match': '"7"' } });
    assert.equal(stale.json.current.version, 1);
    // An oversized body still being sent is read to its end before the 413 goes
    // out: answering and closing first would reset the connection under the
    // client, which then sees a broken connection instead of the answer.
    const slow = await postInHalves(srv.port, '/api/v1/intake/json',
      'Content-Type: application/json\r\n', 2 * 65536 + 7);
    assert.equal(slow.early, '', 'no answer before the body is in');
    assert.equal(slow.error, null, 'the connection is not reset');
    assert.match(slow.out, /^HTTP\/1\.1 413/);
    assert.match(slow.out, /"payload_too_large"/);
    assert.equal(await seq(srv), before, 'no refused request changed anything');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('bodies without Content-Length get 411, chunked ones too, and nothing is stored', async () => {
  const srv = await startServer();
  try {
    const body = JSON.stringify(report('RAW-1'));
    const noLen = await rawHttp(srv.port, `POST /api/v1/intake/json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n${body}`);
    assert.match(noLen, /^HTTP\/1.1 411/);
    assert.match(noLen, /"code":"length_required"/);
    const hex = Buffer.byteLength(body).toString(16);
    const chunked = await rawHttp(srv.port, `POST /api/v1/intake/json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${hex}\r\n${body}\r\n0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1.1 411/);
    assert.equal(await seq(srv), 0);
    // The server is still serving.
    assert.equal((await srv.post('/api/v1/intake/json', report('RAW-2'))).status, 201);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('WebSocket bad input: oversize closes 1009, invalid UTF-8 closes 1007, bad JSON gets an error frame', async () => {
  const srv = await startServer({ args: ['--set', 'ws.max_message=4K'] });
  try {
    const big = await Console.open(srv.port);
    big.ws.send(JSON.stringify({ type: 'hello', pad: 'x'.repeat(5000) }));
    assert.equal((await big.closed).code, 1009);

    const utf = await Console.open(srv.port);
    utf.ws.send(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), { binary: false });
    assert.equal((await utf.closed).code, 1007);

    const j = await Console.open(srv.port);
    j.ws.send('{"type":');
    const e1 = await j.waitFor((f) => f.type === 'error');
    assert.equal(e1.code, 'invalid_json');
    j.send({ type: 'subscribe-everything' });
    const e2 = await j.waitFor((f) => f.type === 'error' && f.code === 'unknown_type');
    assert.ok(e2.message.includes('hello'));
    j.send({ type: 'hello', last_seq: 'yesterday' });
    await j.waitFor((f) => f.type === 'error' && f.code === 'invalid_field');
    // Still usable after errors.
    j.send({ type: 'ping', id: 7 });
    const pong = await j.waitFor((f) => f.type === 'pong');
    assert.equal(pong.id, 7);
    await j.close();

    // Wrong path and missing subprotocol are refused at the handshake.
    const wrong = new WebSocket(`ws://127.0.0.1:${srv.port}/elsewhere`, 'liandong.v1');
    await new Promise((r) => { wrong.on('error', r); wrong.on('close', r); });
    assert.notEqual(wrong.readyState, WebSocket.OPEN);
    const nosub = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`);
    await new Promise((r) => { nosub.on('error', r); nosub.on('close', r); });
    assert.notEqual(nosub.readyState, WebSocket.OPEN);
    assert.equal(await seq(srv), 0);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

test('pipelined requests: the first is answered and the connection closed; no spin; bare connects are harmless', async () => {
  const srv = await startServer();
  try {
    // A connection opened and closed without a request (port scanners, load balancers).
    for (let i = 0; i < 5; i++) await rawHttp(srv.port, '', { waitMs: 50 });

    const body = (ref) => JSON.stringify(report(ref));
    const req = (ref) => `POST /api/v1/intake/json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body(ref))}\r\n\r\n${body(ref)}`;
    const out = await rawHttp(srv.port, req('PIPE-1') + req('PIPE-2'), { waitMs: 3000 });
    assert.match(out, /^HTTP\/1.1 201/);
    assert.match(out.toLowerCase(), /connection: close/);
    assert.equal((out.match(/HTTP\/1.1 /g) || []).length, 1, 'only the first is answered');

    // The server is idle afterwards (lws 4.1 would spin on the leftover bytes).
    const before = cpuSeconds(srv.proc.pid);
    await new Promise((r) => setTimeout(r, 1000));
    const used = cpuSeconds(srv.proc.pid) - before;
    assert.ok(used < 0.5, `server used ${used} s of CPU while idle`);

    // The unanswered request was not stored; a retry on a new connection works.
    const retry = await srv.post('/api/v1/intake/json', report('PIPE-2'));
    assert.equal(retry.status, 201);
    assert.equal((await srv.post('/api/v1/intake/json', report('PIPE-1'))).json.duplicate, true);
  } finally {
    const { code } = await srv.stop();
    assert.equal(code, 0, 'clean exit on SIGTERM');
    srv.cleanup();
  }
});
