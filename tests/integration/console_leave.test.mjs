// Leaders come and go: a leader watches the conference, leaves, and closes
// the page, ten times over. The server must live through it. (It did not:
// GStreamer 1.22's libnice thread delivered "candidate gathering done" to a
// viewer pipeline that had just been freed, and the server died with SIGSEGV
// in the first rounds. Closed viewers' pipelines are now kept a few seconds
// before they are freed; see bury() in media/media.c.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { spawnListening } from './harness.mjs';
import { seededServer, openConsole, session, CHROMIUM, WAIT } from './browser.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

test('watching, leaving and closing the page ten times over never takes the server down', async () => {
  const src = await spawnListening('rtsp-source', RTSP, ['--port', '0', '--size', '320x180', '--fps', '15']);
  const srv = await seededServer({
    media: true, users: [['lead', 'leader'], ['sup', 'supervisor']], args: ['--set', 'media.backoff_max_ms=1000'],
  });
  const sup = await session(srv, 'sup');
  const made = await sup('POST', '/api/v1/conferences', { name: '会商', sources: [`rtsp://127.0.0.1:${src.port}/conf`] });
  assert.equal(made.status, 201, made.text);
  const browser = await chromium.launch({
    executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'],
  });
  const alive = () => srv.proc.exitCode === null && srv.proc.signalCode === null;
  try {
    for (let round = 0; round < 10; round++) {
      const l = await openConsole(browser, srv, { user: 'lead' });
      await l.page.locator('#conf-list li.live').first().waitFor({ timeout: WAIT * 3 });
      await l.page.locator('#conf-list li button.conf-watch').first().click();
      await l.page.locator('#conf-status[data-state=connected]').waitFor({ timeout: WAIT * 2 });
      await l.page.locator('#conf-list li button.conf-leave').first().click();
      for (;;) {
        assert.ok(alive(), `the server died in round ${round}: ${srv.logs.slice(-5).join('\n')}`);
        if ((await sup('GET', `/api/v1/conferences/${made.json.id}`)).json.viewers === 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await l.context.close();
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(alive(), `the server died after round ${round}: ${srv.logs.slice(-5).join('\n')}`);
    }
  } finally {
    await browser.close();
    src.proc.kill('SIGTERM');
    const { code, signal } = await srv.stop();
    srv.cleanup();
    assert.equal(signal, null, srv.logs.slice(-20).join('\n'));
    assert.equal(code, 0, srv.logs.slice(-20).join('\n'));
  }
});
