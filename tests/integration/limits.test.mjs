// Limits with clear errors: JSON nested deeper than any document of ours, and
// more connections from one address than http.max_conns_per_address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { startServer, Console, report } from './harness.mjs';

const nest = (depth, leaf = '1') => '['.repeat(depth) + leaf + ']'.repeat(depth);

test('JSON nested deeper than 32 levels: 400 json_too_deep over REST, an error frame on the console; nothing stored', async () => {
  const srv = await startServer();
  try {
    const seq0 = (await srv.metrics()).liandong_journal_seq;
    // Deep nesting inside a field the adapter would otherwise reject anyway
    // is refused before any parser looks at it, on every JSON route.
    const deep = JSON.stringify(report('DEEP-1')).replace('"description":', `"description":${nest(33)},"d0":`);
    for (const p of ['/api/v1/intake/json', '/api/v1/incidents']) {
      const r = await srv.post(p, deep);
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.equal(r.json.error.code, 'json_too_deep', p);
      assert.match(r.json.error.detail, /deeper than 32/);
    }
    // A million brackets: refused by the scan, not by recursion.
    const huge = await srv.post('/api/v1/intake/json', '{"a":' + '['.repeat(500000));
    assert.equal(huge.json.error.code, 'json_too_deep');
    // Brackets inside strings are text, not nesting: accepted.
    const text = await srv.post('/api/v1/intake/json', report('DEEP-2', { description: '['.repeat(100) + '{'.repeat(100) }));
    assert.equal(text.status, 201, text.text);
    // Exactly 32 levels is allowed by the scan (the adapter then judges the field).
    const at = await srv.post('/api/v1/intake/json', JSON.stringify(report('DEEP-3')).replace('"description":', `"x":${nest(31)},"description":`));
    assert.equal(at.json.error.code, 'invalid_field', at.text);
    assert.match(at.json.error.detail ?? at.json.error.message, /x/);
    assert.equal((await srv.metrics()).liandong_journal_seq, seq0 + 1, 'only DEEP-2 was stored');

    const c = await Console.open(srv.port, 0);
    c.send({ type: 'hello', last_seq: 0 });
    const before = c.frames.length;
    c.ws.send(`{"type":"ping","id":${nest(40)}}`);
    const err = await c.waitFor((f) => f.type === 'error' && f.code === 'json_too_deep');
    assert.ok(err.message.length > 0);
    // The console stays open and usable.
    c.send({ type: 'ping', id: 7 });
    await c.waitFor((f) => f.type === 'pong' && f.id === 7);
    assert.ok(c.frames.length > before);
    await c.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

// Open a raw TCP connection to the server; resolves once connected.
function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

// Send one request on a socket and read until the answer's end or close.
function ask(s, text) {
  return new Promise((resolve) => {
    let out = '';
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/content-length: (\d+)\r\n[\s\S]*?\r\n\r\n/i);
      if (m && out.length >= out.indexOf('\r\n\r\n') + 4 + Number(m[1])) finish();
    };
    const finish = () => { s.off('data', onData); s.off('close', finish); resolve(out); };
    s.on('data', onData);
    s.on('close', finish);
    s.write(text);
  });
}

// Has the server closed this socket (within ms)?
function closedWithin(s, ms) {
  if (s.destroyed || s.readyState === 'closed') return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => { clearTimeout(t); resolve(true); });
    s.resume();
  });
}

test('connections per address: over the limit a request or upgrade gets 429 too_many_connections; at twice it, connections are dropped', async () => {
  const LIMIT = 4;
  const srv = await startServer({ args: ['--set', `http.max_conns_per_address=${LIMIT}`] });
  const socks = [];
  try {
    // LIMIT keep-alive connections, each answered.
    for (let i = 0; i < LIMIT; i++) {
      const s = await connect(srv.port);
      socks.push(s);
      const out = await ask(s, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(out, /^HTTP\/1\.1 200/, `connection ${i + 1}`);
    }
    // One more: its request is answered 429, with the code, Retry-After, and close.
    const extra = await connect(srv.port);
    const refused = await ask(extra, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(refused, /^HTTP\/1\.1 429/);
    assert.match(refused, /retry-after: 1/i);
    assert.match(refused, /"too_many_connections"/);
    assert.match(refused, /127\.0\.0\.1 has 5 connections open; the limit is 4/);
    assert.ok(await closedWithin(extra, 5000), 'the refused connection is closed');
    // A refused POST with a body is answered too (the body is read first, no reset).
    const post = await connect(srv.port);
    const body = JSON.stringify(report('CONN-1'));
    const pr = await ask(post, `POST /api/v1/intake/json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    assert.match(pr, /^HTTP\/1\.1 429/);
    post.destroy();
    // A console upgrade over the limit is refused with a readable status.
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, 'liandong.v1');
    const status = await new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('open', () => resolve('open'));
      ws.on('error', () => resolve('error'));
    });
    assert.equal(status, 429);
    ws.terminate();

    // Twice the limit: further connections are closed without an answer.
    const flood = [];
    for (let i = 0; i < LIMIT; i++) flood.push(await connect(srv.port));
    const dropped = await connect(srv.port);
    assert.ok(await closedWithin(dropped, 5000), 'a connection beyond twice the limit is dropped');
    for (const s of flood) s.destroy();

    // Closing one of the first connections makes room again: a new one is served.
    socks.pop().destroy();
    let ok = '';
    for (let tries = 0; tries < 50 && !/^HTTP\/1\.1 200/.test(ok); tries++) {
      await new Promise((r) => setTimeout(r, 100));
      const s = await connect(srv.port);
      ok = await ask(s, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      s.destroy();
    }
    assert.match(ok, /^HTTP\/1\.1 200/, 'served again once under the limit');
    for (const s of socks) s.destroy();
    socks.length = 0;
    // The refusals are counted; every connection is counted out again.
    let m;
    for (let tries = 0; tries < 50; tries++) {
      m = await srv.metrics();
      if (m.liandong_http_client_addresses === 1) break; // the metrics request itself
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(m.liandong_http_refused_per_address_total >= 4, JSON.stringify(m.liandong_http_refused_per_address_total));
    assert.equal(m.liandong_http_client_addresses, 1);
  } finally {
    for (const s of socks) s.destroy();
    await srv.stop();
    srv.cleanup();
  }
});

test('a console over its message rate gets rate_limited errors; one that keeps on is closed 1008', async () => {
  // One message a second, four at once. Each ping waits for its answer (a console may not
  // pipeline more than a few messages: the control queue holds 8 answers).
  const srv = await startServer({ args: ['--set', 'console.rate=1', '--set', 'console.burst=4'] });
  try {
    const c = await Console.open(srv.port, 0); // the hello takes one of the four
    await c.waitFor((f) => f.type === 'snapshot');
    const ask = async (id) => {
      const n = c.frames.length;
      c.send({ type: 'ping', id });
      const f = await c.waitFor((x) => c.frames.indexOf(x) >= n && (x.type === 'pong' || x.type === 'error'));
      return f.type === 'pong' ? 'pong' : f.code;
    };
    for (const id of [1, 2, 3]) assert.equal(await ask(id), 'pong', `ping ${id} within the burst`);
    for (const id of [4, 5, 6, 7]) assert.equal(await ask(id), 'rate_limited', `ping ${id} over the rate`);
    // A second later there is a token again: served, and the count of refusals starts over.
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(await ask(8), 'pong');
    for (const id of [9, 10, 11, 12]) assert.equal(await ask(id), 'rate_limited');
    // The fifth refusal in a row, more than a burst of them: closed.
    c.send({ type: 'ping', id: 13 });
    const closed = await c.closed;
    assert.equal(closed.code, 1008);
    assert.ok(!c.frames.some((f) => f.type === 'pong' && f.id === 13));
    // Others are unaffected.
    const d = await Console.open(srv.port, 0);
    await d.waitFor((f) => f.type === 'snapshot');
    d.close();
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
