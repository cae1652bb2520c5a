// Outbound delivery: events an agency follows are written to the outbox in
// the commit of the change and posted to the agency's webhook, in order, with
// retry and backoff (server/srv_webhook.c). Against the real binary:
//   1. the agency's webhook is down (nothing listening, then 503) while 30
//      reports on its line and a few on other lines come in; once it answers
//      200 it receives every one of its events, once, in seq order, signed,
//      and none of the other lines (those go to the 110 agency's webhook);
//      an event the agency itself caused is not sent back to it;
//   2. the centre is stopped (SIGTERM) in the middle of delivering and
//      started again on the same data folder: delivery resumes where it
//      stopped; only a post cut by the stop may arrive twice (same
//      delivery_id, same event), nothing is lost or reordered;
//   3. a delivery_id is never used for two events, also after the outbox
//      was emptied (outbox.id is AUTOINCREMENT: a plain INTEGER PRIMARY KEY
//      would give max(id)+1 and restart at 1 once every row is delivered and
//      deleted, and receivers that deduplicate by delivery_id would drop the
//      new events).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { startServer, tempDir, report } from './harness.mjs';

const BIN = process.env.LIANDONG_BIN;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// `liandong gateway add`: prints {"name","token","hmac_secret"}.
function gatewayAdd(dataDir, name, args) {
  const r = spawnSync(BIN, ['gateway', 'add', name, ...args, '--data', dataDir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `gateway add ${name}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// An agency's webhook. mode: 'down' (not listening), 'error' (503), 'up' (200).
// Every request that reached it is kept, with whether its signature verified.
class Agency {
  constructor(port, secret, { delayMs = 0 } = {}) {
    this.port = port;
    this.secret = secret;
    this.delayMs = delayMs;
    this.requests = [];
    this.mode = 'down';
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const r = { headers: req.headers, method: req.method, url: req.url, raw, status: 0 };
        r.body = JSON.parse(raw);
        if (this.secret) {
          const ts = req.headers['x-liandong-timestamp'];
          const want = createHmac('sha256', this.secret).update(`${ts}.${raw}`).digest('hex');
          r.signed = req.headers['x-liandong-signature'] === `sha256=${want}` &&
            Math.abs(Date.now() / 1000 - Number(ts)) < 300;
        }
        this.requests.push(r);
        const answer = () => {
          r.status = this.mode === 'up' ? 200 : 503;
          res.writeHead(r.status, { 'content-type': 'application/json' });
          res.end(r.status === 200 ? '{"ok":true}' : '{"error":"maintenance"}');
        };
        if (this.delayMs) setTimeout(answer, this.delayMs); else answer();
      });
    });
  }

  url() { return `http://127.0.0.1:${this.port}/hooks/liandong?agency=1`; }

  listen(mode) {
    this.mode = mode;
    return new Promise((r) => this.server.listen(this.port, '127.0.0.1', r));
  }

  // Accepted deliveries (answered 200), in the order they arrived.
  accepted() { return this.requests.filter((r) => r.status === 200); }

  close() {
    this.server.closeAllConnections?.();
    return new Promise((r) => this.server.close(r));
  }
}

function post(srv, token, body) {
  return srv.post('/api/v1/intake/json', body, { authorization: `Bearer ${token}` });
}

// Every request is well-formed: headers, body shape, delivery id, signature.
function checkRequests(agency, gateway) {
  for (const r of agency.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/hooks/liandong?agency=1');
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['x-liandong-delivery'], String(r.body.delivery_id));
    assert.equal(r.body.gateway, gateway);
    assert.equal(r.body.event.type, 'event');
    if (agency.secret) assert.ok(r.signed, `bad signature on delivery ${r.body.delivery_id}`);
    else assert.equal(r.headers['x-liandong-signature'], undefined);
  }
}

// The accepted deliveries, one per delivery_id (a repeat must carry the same
// event), checked to be in delivery_id and seq order. Returns the first copies.
function uniqueInOrder(agency) {
  const byId = new Map();
  const out = [];
  for (const r of agency.accepted()) {
    const prev = byId.get(r.body.delivery_id);
    if (prev) {
      assert.deepEqual(r.body, prev.body, `delivery ${r.body.delivery_id} repeated with another event`);
      continue;
    }
    byId.set(r.body.delivery_id, r);
    out.push(r);
  }
  for (let i = 1; i < out.length; i++) {
    assert.ok(out[i].body.delivery_id > out[i - 1].body.delivery_id, 'delivery ids out of order');
    assert.ok(out[i].body.event.seq > out[i - 1].body.event.seq, 'events out of seq order');
  }
  return out;
}

test('an agency webhook that is down for a while receives every event once back, in order', async () => {
  const dataDir = tempDir('webhook');
  const a119 = new Agency(await freePort(), null);
  const a110 = new Agency(await freePort(), null);
  const g119 = gatewayAdd(dataDir, 'fire119', ['--adapter', 'json', '--lines', '119',
    '--webhook', a119.url(), '--hmac']);
  a119.secret = g119.hmac_secret;
  assert.ok(a119.secret, 'gateway add --hmac gives a secret');
  gatewayAdd(dataDir, 'police110', ['--adapter', 'json', '--lines', '110', '--webhook', a110.url()]);
  const poster = gatewayAdd(dataDir, 'intake', ['--adapter', 'json', '--rate', '1000', '--burst', '1000']);
  await a110.listen('up');
  const srv = await startServer({ dataDir, auth: true });
  try {
    // Down: nothing listens on the 119 agency's port while its reports come in.
    const refs = [];
    for (let i = 1; i <= 30; i++) {
      const ref = `F-${i}`;
      refs.push(ref);
      const r = await post(srv, poster.token, report(ref));
      assert.equal(r.status, 201, r.text);
      if (i % 10 === 0) {
        const line = i === 10 ? '110' : '120';
        const o = await post(srv, poster.token, report(`O-${i}`, { line }));
        assert.equal(o.status, 201, o.text);
      }
    }
    for (let i = 1; i <= 3; i++) {
      const r = await post(srv, poster.token, report(`P-${i}`, { line: '110' }));
      assert.equal(r.status, 201, r.text);
    }
    // An event the 119 agency caused itself does not go back to it.
    const own = await post(srv, g119.token, report('OWN-1'));
    assert.equal(own.status, 201, own.text);

    await sleep(1000);
    let m = await srv.metrics();
    assert.ok(m['liandong_webhook_deliveries_total{result="failed"}'] >= 1, 'failed attempts counted');
    // Then it answers 503 (for a few seconds, while the backlog shows), then 200.
    await a119.listen('error');
    await until(() => a119.requests.length >= 1, 10000, 'a retry that reaches the 503 agency');
    // The pending gauge is refreshed with the gateways (every 5 s).
    const pendingBy = Date.now() + 8000;
    while ((m = await srv.metrics()).liandong_webhook_pending < 30 && Date.now() < pendingBy) await sleep(200);
    assert.ok(m.liandong_webhook_pending >= 30, `pending while down: ${m.liandong_webhook_pending}`);
    assert.equal(a119.accepted().length, 0);
    a119.mode = 'up';
    await until(() => a119.accepted().length >= 30, 20000, '30 deliveries to the 119 agency');
    await until(() => a110.accepted().length >= 4, 10000, '4 deliveries to the 110 agency');
    await sleep(300); // anything extra would show up now

    checkRequests(a119, 'fire119');
    checkRequests(a110, 'police110');
    const got = uniqueInOrder(a119);
    assert.equal(a119.accepted().length, 30, 'no delivery repeated without a restart');
    assert.deepEqual(got.map((r) => r.body.event.incident.ext_ref), refs);
    for (const r of got) {
      assert.equal(r.body.event.incident.line, '119');
      assert.equal(r.body.event.actor, 'gateway:intake');
    }
    // The 503 answers were for the first delivery, retried (never skipped).
    for (const r of a119.requests.filter((x) => x.status === 503))
      assert.equal(r.body.delivery_id, got[0].body.delivery_id);
    const got110 = uniqueInOrder(a110);
    assert.deepEqual(got110.map((r) => r.body.event.incident.ext_ref), ['O-10', 'P-1', 'P-2', 'P-3']);
    assert.equal(a110.accepted().length, 4);

    m = await srv.metrics();
    assert.equal(m['liandong_webhook_deliveries_total{result="ok"}'], 34);
    const pendingDeadline = Date.now() + 7000;
    while ((await srv.metrics()).liandong_webhook_pending !== 0 && Date.now() < pendingDeadline) await sleep(200);
    assert.equal((await srv.metrics()).liandong_webhook_pending, 0);
    const { code } = await srv.stop();
    assert.equal(code, 0);
  } finally {
    await srv.stop();
    await a119.close();
    await a110.close();
    srv.cleanup();
  }
});

test('deliveries resume where they stopped when the centre restarts mid-way', async () => {
  const dataDir = tempDir('webhook-restart');
  // A slow agency (150 ms an answer), so the stop lands in the middle.
  const agency = new Agency(await freePort(), null, { delayMs: 150 });
  gatewayAdd(dataDir, 'ems120', ['--adapter', 'json', '--lines', '120,119', '--webhook', agency.url()]);
  const poster = gatewayAdd(dataDir, 'intake', ['--adapter', 'json', '--rate', '1000', '--burst', '1000']);
  let srv = await startServer({ dataDir, auth: true });
  const refs = [];
  try {
    for (let i = 1; i <= 30; i++) {
      const ref = `E-${i}`;
      refs.push(ref);
      const r = await post(srv, poster.token, report(ref, { line: i % 2 ? '120' : '119' }));
      assert.equal(r.status, 201, r.text);
    }
    await agency.listen('up');
    await until(() => agency.accepted().length >= 10, 20000, '10 deliveries before the restart');
    const { code } = await srv.stop('SIGTERM');
    assert.equal(code, 0, 'clean shutdown while delivering');
    const before = agency.requests.length;
    assert.ok(before < 30, `the stop came mid-way (${before} received)`);

    srv = await startServer({ dataDir, auth: true });
    // More reports after the restart follow the older ones.
    for (let i = 31; i <= 35; i++) {
      const ref = `E-${i}`;
      refs.push(ref);
      const r = await post(srv, poster.token, report(ref, { line: '119' }));
      assert.equal(r.status, 201, r.text);
    }
    await until(() => new Set(agency.accepted().map((r) => r.body.delivery_id)).size >= 35, 30000,
      '35 distinct deliveries');
    await sleep(500);

    checkRequests(agency, 'ems120');
    const got = uniqueInOrder(agency);
    assert.deepEqual(got.map((r) => r.body.event.incident.ext_ref), refs);
    // Only a post cut by the stop may be repeated, and only once.
    const repeats = agency.accepted().length - got.length;
    assert.ok(repeats <= 1, `${repeats} deliveries repeated`);
    const m = await srv.metrics();
    assert.equal(m.liandong_webhook_pending, 0);
  } finally {
    await srv.stop();
    await agency.close();
    srv.cleanup();
  }
});

test('a delivery_id is never reused, also after the outbox emptied', async () => {
    const dataDir = tempDir('webhook-ids');
    const agency = new Agency(await freePort(), null);
    gatewayAdd(dataDir, 'fire119', ['--adapter', 'json', '--lines', '119', '--webhook', agency.url()]);
    const poster = gatewayAdd(dataDir, 'intake', ['--adapter', 'json']);
    await agency.listen('up');
    const srv = await startServer({ dataDir, auth: true });
    try {
      for (const batch of [1, 2]) {
        for (let i = 1; i <= 3; i++) {
          const r = await post(srv, poster.token, report(`B${batch}-${i}`));
          assert.equal(r.status, 201, r.text);
        }
        await until(() => agency.accepted().length >= 3 * batch, 10000, `batch ${batch}`);
        await sleep(300); // the acknowledgements commit: the outbox is empty
      }
      const ids = agency.accepted().map((r) => r.body.delivery_id);
      assert.equal(new Set(ids).size, 6, `delivery ids ${ids.join(',')}`);
    } finally {
      await srv.stop();
      await agency.close();
      srv.cleanup();
    }
  });
