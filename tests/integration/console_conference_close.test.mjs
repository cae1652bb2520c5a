// Ending a conference from the console: a supervisor sees the return feed's
// state ("sending", with the mixed feed going to a local RTP port) and ends the
// conference with one click (and a confirmation); the leader who was watching
// is disconnected and both panels show it ended, with nothing left to watch.
// A leader has no end button.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { spawnListening, until } from './harness.mjs';
import { seededServer, openConsole, session, shot, CHROMIUM, WAIT } from './browser.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

test('a supervisor sees the return feed sending and ends the conference; the watching leader is let go', async () => {
  const src = await spawnListening('rtsp-source', RTSP, ['--port', '0', '--size', '320x180', '--fps', '15']);
  const srv = await seededServer({
    media: true, users: [['lead', 'leader'], ['sup', 'supervisor']], args: ['--set', 'media.backoff_max_ms=1000'],
  });
  const sup = await session(srv, 'sup');
  const made = await sup('POST', '/api/v1/conferences', { name: '防汛会商',
    sources: [`rtsp://127.0.0.1:${src.port}/conf`], return: 'rtp://127.0.0.1:15024' });
  assert.equal(made.status, 201, made.text);
  const id = made.json.id;
  const browser = await chromium.launch({
    executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const l = await openConsole(browser, srv, { user: 'lead' });
    const s = await openConsole(browser, srv, { user: 'sup' });
    await s.page.click('[data-view=leader]');
    for (const c of [l, s]) await c.page.locator('#conf-list li.live').first().waitFor({ timeout: WAIT * 3 });
    assert.equal(await l.page.locator('#conf-list button.conf-close').count(), 0, 'a leader may not end it');

    // The return feed's state, as the bridge reports it.
    const ret = s.page.locator('#conf-list li[data-conference] .conf-return');
    await s.page.locator('#conf-list .conf-return.ret-running').waitFor({ timeout: WAIT });
    assert.match(await ret.textContent(), /回传: 发送中/);

    await l.page.locator('#conf-list li button.conf-watch').first().click();
    await l.page.locator('#conf-status[data-state=connected]').waitFor({ timeout: WAIT * 2 });

    // End it: a confirmation first (declined: nothing happens), then accepted.
    s.page.once('dialog', (d) => d.dismiss());
    await s.page.locator('#conf-list button.conf-close').click();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await sup('GET', `/api/v1/conferences/${id}`)).json.state, 'open');
    s.page.once('dialog', (d) => { assert.match(d.message(), /防汛会商/); d.accept(); });
    await s.page.locator('#conf-list button.conf-close').click();
    for (const c of [s, l]) {
      await c.page.locator('#conf-list li.closed').waitFor({ timeout: WAIT });
      assert.match(await c.page.locator('#conf-list li.closed').textContent(), /会商已结束/);
      assert.equal(await c.page.locator('#conf-list button.conf-watch').count(), 0);
    }
    await until('the leader let go', async () => {
      const st = await l.page.locator('#conf-status').getAttribute('data-state');
      return { ok: st !== 'connected', st };
    });
    assert.equal((await sup('GET', `/api/v1/conferences/${id}`)).json.state, 'closed');
    await shot(s.page, 'conference-ended');
    for (const c of [l, s]) assert.deepEqual(c.errors, []);
  } finally {
    await browser.close();
    src.proc.kill('SIGTERM');
    const { code } = await srv.stop();
    srv.cleanup();
    assert.equal(code, 0, srv.logs.slice(-20).join('\n'));
  }
});
