// Disaster backup: `liandong backup` copies the live database while reports
// keep arriving (a consistent, checked copy), `liandong restore` refuses a bad
// file and a running server's data, and a restored centre serves what the
// backup held; scheduled backups appear in backup.dir and are pruned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, tempDir, report } from './harness.mjs';

const BIN = process.env.LIANDONG_BIN;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sqlite = (file, sql) => execFileSync('sqlite3', [file, sql]).toString().trim();

test('an online backup during intake is consistent, and restores into a working centre', async () => {
  const dataDir = tempDir('bk');
  const out = tempDir('bk-out');
  const srv = await startServer({ dataDir });
  let posting = true, acked = 0;
  const posters = Array.from({ length: 8 }, async (_, p) => {
    for (let i = 0; posting; i++) {
      const r = await srv.post('/api/v1/intake/json', report(`BK-${p}-${i}`, { lon: 113.2 + p / 50 + i / 5000 }));
      assert.equal(r.status, 201);
      acked++;
    }
  });
  try {
    await sleep(300);
    const file = path.join(out, 'copy.db');
    const r = spawnSync(BIN, ['backup', file, '--data', dataDir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /"integrity":"ok"/);
    const atBackup = acked;
    await sleep(300);
    posting = false;
    await Promise.all(posters);
    // The copy is one commit's state: every incident with its journal event, no more, no less.
    const incidents = Number(sqlite(file, 'SELECT count(*) FROM incidents'));
    const created = Number(sqlite(file, "SELECT count(*) FROM journal WHERE kind='incident.created'"));
    const maxSeq = Number(sqlite(file, 'SELECT max(seq) FROM journal'));
    const nSeq = Number(sqlite(file, 'SELECT count(*) FROM journal'));
    assert.ok(incidents > 0 && incidents >= atBackup - 8 * 2, `${incidents} incidents, ${atBackup} acked at backup time`);
    assert.ok(incidents < acked, 'taken while intake went on');
    assert.equal(created, incidents);
    assert.equal(maxSeq, nSeq, 'no gap in the journal');
    assert.equal(sqlite(file, 'PRAGMA integrity_check'), 'ok');
    assert.equal(sqlite(file, 'PRAGMA journal_mode'), 'delete', 'a self-contained file');

    // Restore refuses the running server's data folder and a damaged file; nothing changes.
    let rr = spawnSync(BIN, ['restore', file, '--data', dataDir], { encoding: 'utf8' });
    assert.equal(rr.status, 1);
    assert.match(rr.stderr, /in use: stop the server first; nothing changed/);
    const bad = path.join(out, 'bad.db');
    writeFileSync(bad, 'SQLite format 3\0' + 'x'.repeat(5000));
    const fresh = tempDir('bk-fresh');
    rr = spawnSync(BIN, ['restore', bad, '--data', fresh], { encoding: 'utf8' });
    assert.equal(rr.status, 1);
    assert.match(rr.stderr, /refused, nothing changed/);
    assert.equal(existsSync(path.join(fresh, 'liandong.db')), false);

    // Into a fresh folder: a centre that serves exactly what the backup held.
    rr = spawnSync(BIN, ['restore', file, '--data', fresh], { encoding: 'utf8' });
    assert.equal(rr.status, 0, rr.stderr);
    const again = await startServer({ dataDir: fresh });
    try {
      const h = await again.get('/healthz');
      assert.equal(h.json.seq, maxSeq);
      const list = await again.get('/api/v1/incidents?limit=500');
      assert.equal(list.json.incidents.length, Math.min(incidents, 500));
      // And it goes on from there.
      assert.equal((await again.post('/api/v1/intake/json', report('BK-AFTER'))).json.seq, maxSeq + 1);
    } finally {
      await again.stop();
      again.cleanup();
    }
  } finally {
    posting = false;
    await Promise.allSettled(posters);
    await srv.stop();
    srv.cleanup();
    rmSync(out, { recursive: true, force: true });
  }
});

test('scheduled backups appear in backup.dir, checked, and only the newest are kept', async () => {
  const dir = tempDir('bk-sched');
  const srv = await startServer({ args: ['--set', `backup.dir=${dir}`, '--set', 'backup.interval_s=10', '--set', 'backup.keep=1'] });
  try {
    await srv.post('/api/v1/intake/json', report('SCHED-1'));
    for (let i = 0; i < 120 && readdirSync(dir).filter((f) => f.endsWith('.db')).length === 0; i++) await sleep(100);
    const first = readdirSync(dir).filter((f) => /^liandong-\d{8}T\d{9}Z\.db$/.test(f));
    assert.equal(first.length, 1, readdirSync(dir).join(','));
    assert.equal(sqlite(path.join(dir, first[0]), 'SELECT count(*) FROM incidents'), '1');
    await srv.post('/api/v1/intake/json', report('SCHED-2', { lon: 113.4 }));
    for (let i = 0; i < 120 && readdirSync(dir).includes(first[0]); i++) await sleep(100);
    const now = readdirSync(dir).filter((f) => f.endsWith('.db'));
    assert.equal(now.length, 1, 'keep=1');
    assert.notEqual(now[0], first[0]);
    assert.equal(sqlite(path.join(dir, now[0]), 'SELECT count(*) FROM incidents'), '2');
  } finally {
    await srv.stop();
    srv.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
