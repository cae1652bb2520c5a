// Acknowledged means durable: posters hammer the server, it is killed with
// SIGKILL right after an acknowledgement, restarted on the same data folder,
// and every acknowledged report must be there, once. Re-posting a report's
// (adapter, ext_ref) returns the same incident, never a second one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDir, report } from './harness.mjs';
import { rmSync } from 'node:fs';

// bench/crash runs this same test for 1,000 cycles and fewer acknowledgements each.
const CYCLES = Number(process.env.LIANDONG_CRASH_CYCLES || 3);
const ACKS_MIN = Number(process.env.LIANDONG_CRASH_ACKS || 200); // per cycle, before the kill
const POSTERS = 16;

async function runUntilKilled(srv, acked, cycle) {
  let stop = false;
  let killAfter = ACKS_MIN + Math.floor(Math.random() * ACKS_MIN * 1.5); // acks before the kill
  const posters = [];
  for (let p = 0; p < POSTERS; p++) {
    posters.push((async () => {
      for (let i = 0; !stop; i++) {
        const ref = `K${cycle}-${p}-${i}`;
        let r;
        try {
          r = await srv.post('/api/v1/intake/json', report(ref));
        } catch {
          return; // connection died with the server: this one was never acknowledged
        }
        if (r.status === 201) {
          acked.set(ref, r.json.incident.id);
          if (--killAfter === 0) {
            stop = true;
            srv.proc.kill('SIGKILL'); // right after an acknowledgement
          }
        } else if (r.status !== 503) {
          throw new Error(`unexpected ${r.status}: ${r.text}`);
        }
      }
    })());
  }
  await Promise.all(posters);
  const { signal } = await srv.exited;
  assert.equal(signal, 'SIGKILL');
}

test('every acknowledged report survives SIGKILL, and retries never duplicate', async () => {
  const dir = tempDir('kill');
  const acked = new Map();
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const srv = await startServer({ dataDir: dir });
      await runUntilKilled(srv, acked, cycle);
    }
    assert.ok(acked.size >= CYCLES * ACKS_MIN, `acknowledged ${acked.size}`);
    if (process.env.LIANDONG_CRASH_CYCLES) console.log(`# ${CYCLES} SIGKILL cycles, ${acked.size} acknowledged reports`);

    const srv = await startServer({ dataDir: dir });
    try {
      // Every acknowledged report is present: a retry answers 200 with the same id.
      const refs = [...acked.keys()];
      for (let i = 0; i < refs.length; i += 32) {
        await Promise.all(refs.slice(i, i + 32).map(async (ref) => {
          const r = await srv.post('/api/v1/intake/json', report(ref));
          assert.equal(r.status, 200, `${ref} was acknowledged but is missing (${r.status})`);
          assert.equal(r.json.duplicate, true);
          assert.equal(r.json.incident.id, acked.get(ref));
        }));
      }
      // And none is there twice: page through everything and count references.
      const seen = new Map();
      let before = '';
      for (;;) {
        const r = await srv.get(`/api/v1/incidents?limit=500${before}`);
        assert.equal(r.status, 200);
        for (const inc of r.json.incidents) seen.set(inc.ext_ref, (seen.get(inc.ext_ref) || 0) + 1);
        if (r.json.next_before === null) break;
        before = `&before=${r.json.next_before}`;
      }
      for (const [ref, n] of seen) assert.equal(n, 1, `${ref} stored ${n} times`);
      for (const ref of refs) assert.ok(seen.has(ref));
      // The journal has one creation event per stored incident, numbered without gaps.
      const m = await srv.metrics();
      assert.equal(m.liandong_journal_seq, seen.size);
    } finally {
      await srv.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
