// Graceful shutdown: on SIGTERM consoles get a close frame (1001), requests
// already queued are committed and acknowledged, new ones are refused, and the
// process exits 0 with nothing half-written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, Console, report, tempDir } from './harness.mjs';
import { rmSync } from 'node:fs';

test('SIGTERM: consoles get 1001, in-flight intake is committed or refused, exit 0', async () => {
  const dir = tempDir('term');
  try {
    const srv = await startServer({ dataDir: dir });
    const c = await Console.open(srv.port, 0);
    await c.waitFor((f) => f.type === 'snapshot');
    const results = [];
    // A request the dying server never answered was never acknowledged. Some of
    // node's fetch promises never settle once their socket vanishes, so each is
    // bounded by a (ref'd) timer.
    const answerOrTimeout = (p) => Promise.race([p,
      new Promise((r) => setTimeout(() => r('no answer'), 5000))]);
    const inflight = Array.from({ length: 200 }, (_, i) =>
      answerOrTimeout(srv.post('/api/v1/intake/json', report(`TERM-${i}`)))
        .then((r) => results.push(r === 'no answer' ? [`TERM-${i}`, 'connection', null]
          : [`TERM-${i}`, r.status, r.json]))
        .catch(() => results.push([`TERM-${i}`, 'connection', null])));
    await new Promise((r) => setTimeout(r, 5));
    srv.proc.kill('SIGTERM');
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    const { code } = await srv.exited;
    assert.equal(code, 0);
    await Promise.all(inflight);
    for (const [, status] of results) assert.ok([201, 503, 'connection'].includes(status), String(status));
    const acked = results.filter(([, s]) => s === 201).map(([ref, , j]) => [ref, j.incident.id]);

    // Restart: everything acknowledged is there.
    const again = await startServer({ dataDir: dir });
    try {
      for (const [ref, id] of acked) {
        const r = await again.post('/api/v1/intake/json', report(ref));
        assert.equal(r.status, 200);
        assert.equal(r.json.incident.id, id);
      }
    } finally {
      await again.stop();
    }
    assert.ok(srv.logs.some((l) => l.includes('all changes committed and answered')),
      'the server drained before stopping');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port already in use is a clear start-up error, not a silent server', async () => {
  const a = await startServer();
  try {
    await assert.rejects(startServer({ args: ['--port', String(a.port)] }),
      (e) => /exited \(1\)/.test(e.message) && /cannot listen on 127\.0\.0\.1:\d+: Address already in use/.test(e.message));
  } finally {
    await a.stop();
    a.cleanup();
  }
});
