// liandong-forward, the agency-side store-and-forward forwarder, as a black
// box between an agency (this test, posting to its loopback intake or
// dropping files into its inbox) and the real centre:
//   1. the centre is stopped while the forwarder accepts 1,000 reports; it
//      is started again (same data folder, same port) and all 1,000 arrive,
//      none twice;
//   2. the same, with the forwarder killed (SIGKILL) mid-way through
//      forwarding and restarted on its spool;
//   3. files dropped into the inbox arrive; a refused one goes to rejected/
//      without holding up the others;
//   4. against a stub centre: the token and HMAC signature headers, the
//      retry of 503/429 (Retry-After) and the local intake's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import {
  existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startServer, tempDir, rawHttp, spawnListening, postInHalves } from './harness.mjs';

const BIN = process.env.LIANDONG_BIN;
const FWD_BIN = process.env.LIANDONG_FORWARD_BIN ||
  path.join(path.dirname(BIN), '..', 'gateways', 'forward', 'liandong-forward');
const N = 1000;

// `--set intake.auth=open` once the centre has gateway authentication.
const centreArgs = (() => {
  const r = spawnSync(BIN, ['config'], { encoding: 'utf8' });
  return /^intake\.auth\s*=/m.test(r.stdout || '') ? ['--set', 'intake.auth=open'] : [];
})();

// A port for a centre that is stopped and started again on it. It is taken
// below the kernel's ephemeral range (ip_local_port_range, 32768-60999 here):
// while the centre is down, a port from that range could be handed to another
// test's listen(0) or to an outgoing connection, and the restart would fail
// or the forwarder would deliver to a stranger. Checked free by binding it.
function freePort() {
  const tryOne = () => new Promise((resolve) => {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const s = net.createServer();
    s.on('error', () => resolve(0));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(port)));
  });
  return (async () => {
    for (let i = 0; i < 50; i++) {
      const port = await tryOne();
      if (port) return port;
    }
    throw new Error('no free port below the ephemeral range');
  })();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function payload(ref) {
  return JSON.stringify({
    line: '119', ext_ref: ref, category: 'accident', priority: 1, title: 't', lon: 113.32, lat: 23.13,
  });
}

async function startCentre(dataDir, port) {
  return startServer({ dataDir, args: ['--port', String(port), ...centreArgs] });
}

class Forwarder {
  constructor(proc, port, spool, logs) {
    this.proc = proc;
    this.port = port;
    this.spool = spool;
    this.logs = logs;
    this.base = `http://127.0.0.1:${port}`;
    this.exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  }

  // Start liandong-forward on a free loopback port; resolves once it logs "listening".
  // onLine sees every log line as it is read (the forwarder blocks on a full stderr pipe,
  // so a test that acts on a line acts while the forwarder is at most a pipe's worth ahead).
  static start({ spool, centre, args = [], onLine = null }) {
    return spawnListening('forwarder', FWD_BIN, ['--listen', '127.0.0.1:0', '--spool', spool,
      '--centre', centre, '--backoff-max', '500', ...args], { onLine })
      .then(({ proc, port, logs }) => new Forwarder(proc, port, spool, logs));
  }

  async post(body, { adapter, headers = {} } = {}) {
    const res = await fetch(this.base + (adapter ? `/forward/${adapter}` : '/forward'), {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body,
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, json, text };
  }

  async status() {
    const res = await fetch(this.base + '/status');
    return res.json();
  }

  // Wait until everything spooled is forwarded (or rejected) and deleted.
  async drained(timeoutMs = 30000) {
    const t0 = Date.now();
    for (;;) {
      const s = await this.status();
      if (s.spooled === 0 && s.in_flight === 0 && s.writing === 0) return s;
      if (Date.now() - t0 > timeoutMs) {
        throw new Error(`spool not drained: ${JSON.stringify(s)}\n${this.logs.slice(-20).join('\n')}`);
      }
      await sleep(50);
    }
  }

  async stop(signal = 'SIGTERM') {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

// Post refs with a few concurrent posters; every one must be answered 202.
async function postAll(fwd, refs, concurrency = 16) {
  let next = 0;
  const ids = new Set();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < refs.length) {
      const ref = refs[next++];
      const r = await fwd.post(payload(ref));
      assert.equal(r.status, 202, `${ref}: ${r.status} ${r.text}`);
      assert.ok(Number.isInteger(r.json.spooled) && !ids.has(r.json.spooled));
      ids.add(r.json.spooled);
    }
  }));
}

// Every ext_ref with the prefix the centre stores, with how often (paging newest first).
async function storedRefs(centre, prefix) {
  const counts = new Map();
  let before = null;
  for (;;) {
    const r = await centre.get(`/api/v1/incidents?limit=500&source=json${before ? `&before=${before}` : ''}`);
    assert.equal(r.status, 200, r.text);
    for (const inc of r.json.incidents) {
      if (inc.ext_ref && inc.ext_ref.startsWith(prefix)) counts.set(inc.ext_ref, (counts.get(inc.ext_ref) || 0) + 1);
    }
    if (r.json.next_before == null) break;
    before = r.json.next_before;
  }
  return counts;
}

function assertAllOnce(counts, refs) {
  const missing = refs.filter((r) => !counts.has(r));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} reports missing`);
  const twice = [...counts].filter(([, n]) => n !== 1);
  assert.deepEqual(twice, [], 'reports stored more than once');
  assert.equal(counts.size, refs.length);
}

// SIGTERM: the forwarder exits 0 (a sanitizer's report would make it fail).
async function stopCleanly(fwd) {
  const { code, signal } = await fwd.stop('SIGTERM');
  assert.equal(code, 0, `exit ${code ?? signal}:\n${fwd.logs.slice(-30).join('\n')}`);
  assert.ok(fwd.logs.some((l) => /msg="stopped"/.test(l)));
}

function spoolFiles(dir) {
  return readdirSync(dir).filter((n) => /^\d{16}\./.test(n));
}

test('the centre stops while 1,000 reports arrive: all arrive once after it restarts', async () => {
  const dataDir = tempDir('fwd1');
  const spool = tempDir('fwd1-spool');
  const port = await freePort();
  let centre = await startCentre(dataDir, port);
  const fwd = await Forwarder.start({ spool, centre: centre.base });
  try {
    await centre.stop('SIGTERM');
    const refs = Array.from({ length: N }, (_, i) => `FW1-${i}`);
    let t0 = Date.now();
    await postAll(fwd, refs);
    const spoolMs = Date.now() - t0;
    const s = await fwd.status();
    assert.equal(s.spooled, N);
    assert.equal(s.forwarded, 0);
    assert.equal(spoolFiles(spool).length, N, 'one fsynced file per accepted report');

    centre = await startCentre(dataDir, port);
    t0 = Date.now();
    const done = await fwd.drained();
    const forwardMs = Date.now() - t0;
    assert.equal(done.forwarded, N);
    assert.equal(done.rejected, 0);
    assert.equal(spoolFiles(spool).length, 0);
    assertAllOnce(await storedRefs(centre, 'FW1-'), refs);
    console.log(`${N} reports: spooled in ${spoolMs} ms with the centre down; ` +
      `forwarded in ${forwardMs} ms after its restart (${done.attempts} posts, ${done.failures} failed)`);
    await stopCleanly(fwd);
  } finally {
    await fwd.stop();
    await centre.stop();
    centre.cleanup();
    rmSync(spool, { recursive: true, force: true });
  }
});

test('the forwarder is killed (SIGKILL) mid-way: restarted on its spool, all arrive once', async () => {
  const dataDir = tempDir('fwd2');
  const spool = tempDir('fwd2-spool');
  const port = await freePort();
  let centre = await startCentre(dataDir, port);
  // A window of 8 here (the default posts one at a time): the kill lands amid concurrent
  // posts. The kill comes from the log line of the N/3rd acknowledgement.
  let acked = 0;
  const killer = (line, proc) => {
    if (/msg="forwarded"/.test(line) && ++acked === Math.floor(N / 3)) proc.kill('SIGKILL');
  };
  let fwd = await Forwarder.start({ spool, centre: centre.base,
    args: ['--inflight', '8', '--log-level', 'debug'], onLine: killer });
  try {
    await centre.stop('SIGTERM');
    const refs = Array.from({ length: N }, (_, i) => `FW2-${i}`);
    await postAll(fwd, refs);

    centre = await startCentre(dataDir, port);
    const t0 = Date.now();
    const timeout = new Promise((r) => setTimeout(r, 30000, { signal: 'timeout' }).unref());
    const killed = await Promise.race([fwd.exited, timeout]);
    assert.equal(killed.signal, 'SIGKILL', `not killed: ${fwd.logs.slice(-5).join('\n')}`);
    const s = { forwarded: acked };
    const left = spoolFiles(spool).length;
    assert.ok(left > 0 && left < N, `${left} reports left in the spool at the kill`);

    fwd = await Forwarder.start({ spool, centre: centre.base });
    // What it found at start is in its "listening" line; /status is already
    // counting down, as it begins forwarding at once.
    const listening = fwd.logs.find((l) => /msg="listening"/.test(l)) || '';
    const found = Number((/\bspooled=(\d+)/.exec(listening) || [])[1]);
    assert.equal(found, left, `the restarted forwarder counts what the spool holds: ${listening}`);
    const done = await fwd.drained();
    const forwardMs = Date.now() - t0;
    assert.ok(done.forwarded >= left, JSON.stringify(done));
    assertAllOnce(await storedRefs(centre, 'FW2-'), refs);
    console.log(`killed after ${s.forwarded} of ${N} acknowledged (${left} left in the spool); ` +
      `all ${N} stored once, ${done.duplicates} re-sent and answered as duplicates; ${forwardMs} ms in all`);
    await stopCleanly(fwd);
  } finally {
    await fwd.stop('SIGKILL');
    await centre.stop();
    centre.cleanup();
    rmSync(spool, { recursive: true, force: true });
  }
});

test('files dropped into the inbox arrive; a refused one moves to rejected/ without blocking', async () => {
  const dataDir = tempDir('fwd3');
  const spool = tempDir('fwd3-spool');
  const work = tempDir('fwd3-work');
  const inbox = path.join(work, 'inbox');
  mkdirSync(path.join(inbox, 'json'), { recursive: true });
  const centre = await startServer({ dataDir, args: centreArgs });
  const fwd = await Forwarder.start({ spool, centre: centre.base,
    args: ['--inbox', inbox, '--inbox-poll', '100'] });
  try {
    // Written elsewhere on the same file system, then renamed in (atomic).
    const drop = (rel, text) => {
      const tmp = path.join(work, `.${path.basename(rel)}.tmp`);
      writeFileSync(tmp, text);
      renameSync(tmp, path.join(inbox, rel));
    };
    drop('a.json', payload('FW3-a'));
    drop('json/b.json', payload('FW3-b'));
    drop('c.json', JSON.stringify({ line: '119', ext_ref: 'FW3-bad', category: 'accident', priority: 9, title: 't' }));
    drop('d.json', payload('FW3-d'));
    // Being written: left alone.
    writeFileSync(path.join(inbox, 'e.json.part'), payload('FW3-e'));

    const t0 = Date.now();
    let s;
    for (;;) {
      s = await fwd.status();
      if (s.received === 4 && s.spooled === 0 && s.in_flight === 0 && s.rejected === 1) break;
      assert.ok(Date.now() - t0 < 10000, `inbox not forwarded: ${JSON.stringify(s)}\n${fwd.logs.join('\n')}`);
      await sleep(50);
    }
    assert.equal(s.forwarded, 3);
    const counts = await storedRefs(centre, 'FW3-');
    assert.deepEqual([...counts.keys()].sort(), ['FW3-a', 'FW3-b', 'FW3-d']);
    assert.deepEqual(readdirSync(inbox).sort(), ['e.json.part', 'json']);
    assert.deepEqual(readdirSync(path.join(inbox, 'json')), []);

    const rejected = readdirSync(path.join(spool, 'rejected')).sort();
    assert.equal(rejected.length, 2, rejected.join(' '));
    assert.match(rejected[0], /^\d{16}\.json\.application%2Fjson$/);
    const why = JSON.parse(readFileSync(path.join(spool, 'rejected', rejected[1]), 'utf8'));
    assert.equal(why.status, 422);
    assert.equal(why.centre_answer.error.code, 'invalid_field');
    assert.ok(fwd.logs.some((l) => /level=error .*rejected/.test(l)));
    await stopCleanly(fwd);
  } finally {
    await fwd.stop();
    await centre.stop();
    centre.cleanup();
    rmSync(spool, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});

test('token, HMAC signature, retries of 503/429, and the local intake refusals', async () => {
  const spool = tempDir('fwd4-spool');
  const token = 'tok-' + 'x'.repeat(40);
  const secret = 'hmac secret with spaces';
  const seen = [];
  let answers = [
    [503, { error: { code: 'overloaded', message: 'busy' } }, {}],
    [429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '1' }],
  ];
  const stub = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ t: Date.now(), url: req.url, headers: req.headers, body: body.toString() });
      const [status, json, headers] = answers.shift() || [201, { duplicate: false }, {}];
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise((r) => stub.listen(0, '127.0.0.1', r));
  const secretFile = path.join(spool, '..', `fwd4-secret-${process.pid}`);
  writeFileSync(secretFile, secret + '\n');
  const fwd = await Forwarder.start({
    spool, centre: `http://127.0.0.1:${stub.address().port}/prefix/`,
    args: ['--token', token, '--hmac-secret', '@' + secretFile, '--adapter', 'line119'],
  });
  try {
    const body = payload('FW4-1');
    const r = await fwd.post(body, { headers: { 'content-type': 'application/json; charset=utf-8' } });
    assert.equal(r.status, 202, r.text);
    // A large report goes out in several writes.
    const bigBody = JSON.stringify({ ext_ref: 'FW4-2', description: 'x'.repeat(900 * 1024) });
    assert.equal((await fwd.post(bigBody, { adapter: 'cap' })).status, 202);
    const s = await fwd.drained(10000);
    assert.equal(s.forwarded, 2);
    assert.equal(seen.length, 4, 'a 503 and a 429 are retried, then it is delivered');
    assert.ok(seen[2].t - seen[1].t >= 900, 'Retry-After is honoured');
    assert.equal(seen[3].url, '/prefix/api/v1/intake/cap');
    assert.equal(seen[3].body, bigBody);
    for (const req of seen) {
      const expected = req === seen[3] ? bigBody : body;
      if (req !== seen[3]) assert.equal(req.url, '/prefix/api/v1/intake/line119');
      assert.equal(req.body, expected);
      assert.equal(req.headers['content-type'],
        req === seen[3] ? 'application/json' : 'application/json; charset=utf-8');
      assert.equal(req.headers.authorization, `Bearer ${token}`);
      const ts = req.headers['x-liandong-timestamp'];
      assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60);
      const mac = createHmac('sha256', secret).update(`${ts}.${expected}`).digest('hex');
      assert.equal(req.headers['x-liandong-signature'], `sha256=${mac}`);
    }

    // The local intake refuses what it cannot keep, with the centre's error shape.
    const noLen = await rawHttp(fwd.port, 'POST /forward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', { waitMs: 1000 });
    assert.match(noLen, /^HTTP\/1\.1 411/);
    assert.match(noLen, /"length_required"/);
    const big = await fwd.post('x'.repeat(1024 * 1024 + 1));
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'payload_too_large');
    // The refused body is read to its end before the answer: no reset under a
    // client still sending it.
    const slow = await postInHalves(fwd.port, '/forward', 'Content-Type: application/json\r\n',
      1024 * 1024 + 1);
    assert.equal(slow.early, '', 'no answer before the body is in');
    assert.equal(slow.error, null, 'the connection is not reset');
    assert.match(slow.out, /^HTTP\/1\.1 413/);
    const noType = await rawHttp(fwd.port, 'POST /forward HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}', { waitMs: 1000 });
    assert.match(noType, /^HTTP\/1\.1 415/);
    const badAdapter = await fwd.post('{}', { adapter: 'No%20Such' });
    assert.equal(badAdapter.status, 404);
    assert.equal((await fwd.status()).received, 2);
    await stopCleanly(fwd);
  } finally {
    await fwd.stop();
    stub.close();
    rmSync(spool, { recursive: true, force: true });
    rmSync(secretFile, { force: true });
  }
});
