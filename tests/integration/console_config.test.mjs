// GET /api/v1/console: what the web console reads from the configuration (the
// sign-in mode and the optional map tile path), and console.tile_url checked
// at start: only a path on this centre with {z}, {x} and {y} (the page's CSP
// admits no other origin), anything else refused with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, tempDir } from './harness.mjs';

test('GET /api/v1/console answers the sign-in mode and the tile path (null by default)', async () => {
  let srv = await startServer();
  try {
    const r = await srv.get('/api/v1/console');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { auth: 'open', tile_url: null, media: false }, 'the harness runs without the video bridge');
    assert.equal((await srv.post('/api/v1/console', {})).status, 405);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
  srv = await startServer({ users: true, args: ['--set', 'console.tile_url=/tiles/{z}/{x}/{y}.png'] });
  try {
    const r = await srv.get('/api/v1/console');
    assert.equal(r.status, 401, 'behind sign-in like the rest of the console API');
    assert.equal(r.json.error.code, 'sign_in_required');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
  srv = await startServer({ args: ['--set', 'console.tile_url=/tiles/{z}/{x}/{y}.png'] });
  try {
    assert.deepEqual((await srv.get('/api/v1/console')).json, { auth: 'open', tile_url: '/tiles/{z}/{x}/{y}.png', media: false });
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('console.tile_url other than a path on this centre is refused at start, with the reason', () => {
  const dir = tempDir('tiles');
  for (const bad of ['https://t0.tianditu.gov.cn/{z}/{x}/{y}.png', '//tiles.example/{z}/{x}/{y}.png',
    '/tiles/{z}/{x}.png', 'tiles/{z}/{x}/{y}.png', '/tiles/{z}/{x}/{y}.png"onload=']) {
    const r = spawnSync(process.env.LIANDONG_BIN, ['serve', '--port', '0', '--data', dir, '--set', `console.tile_url=${bad}`]);
    assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr.toString(), /console\.tile_url must be a path on this centre with \{z\}, \{x\} and \{y\}/);
  }
});
