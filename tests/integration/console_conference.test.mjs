// The leadership view's linked video conference, in the real console: a
// leader signs in, sees the conference a supervisor set up (played by the
// local RTSP source, its return feed to a local RTP port) with its source live, watches it (the page's video
// element decodes frames), speaks into it with the browser's (fake) camera
// and microphone, and leaves. A dispatcher, whose agency has no incident
// linked to the conference, gets no conference panel at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { spawnListening, until } from './harness.mjs';
import { seededServer, openConsole, session, shot, offLoopback, videoState, assertSourcePicture, CHROMIUM, WAIT } from './browser.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

const framesOf = (page) => page.evaluate(() => {
  const v = document.getElementById('conf-video');
  return v && v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : 0;
});

test('a leader watches the linked conference in the leadership view and speaks into it; a dispatcher of another agency has no panel', async () => {
  const src = await spawnListening('rtsp-source', RTSP, ['--port', '0', '--size', '640x360', '--fps', '15']);
  const srv = await seededServer({
    media: true,
    users: [['lead', 'leader'], ['sup', 'supervisor'], ['d120', 'dispatcher', '120']],
    args: ['--set', 'media.backoff_max_ms=1000'],
  });
  // A supervisor sets the conference up: the provincial source, and where the mixed return feed goes.
  const sup = await session(srv, 'sup');
  const made = await sup('POST', '/api/v1/conferences', { name: '省应急指挥视频会商',
    sources: [`rtsp://127.0.0.1:${src.port}/conf`], return: 'rtp://127.0.0.1:15004' });
  assert.equal(made.status, 201, made.text);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  try {
    const l = await openConsole(browser, srv, { user: 'lead' });
    await l.context.grantPermissions(['camera', 'microphone']);
    await l.page.locator('#view-leader:not([hidden])').waitFor({ timeout: WAIT });
    // The configured conference, its source live (pushed by the bridge).
    const item = l.page.locator('#conf-list li[data-conference]').first();
    await item.waitFor({ timeout: WAIT });
    assert.match(await item.textContent(), /省应急指挥视频会商/);
    await l.page.locator('#conf-list li.live').first().waitFor({ timeout: 90000 });
    assert.match(await item.textContent(), /直播中/);

    // Watch: the page's video element decodes frames, and keeps decoding.
    await item.locator('button.conf-watch').click();
    await l.page.locator('#conf-status[data-state=connected]').waitFor({ timeout: 90000 });
    const first = await until('frames decoded', async () => {
      const n = await framesOf(l.page);
      return { ok: n > 10, n };
    });
    await until('more frames', async () => {
      const n = await framesOf(l.page);
      return { ok: n > first.n + 10, n };
    });
    assert.equal(await item.locator('button.conf-watch').isDisabled(), true, 'watching');
    // The picture is the source's: a white ball on black (videotestsrc pattern=ball), grey
    // throughout (no colour cast, as a broken decode would give), read back through a canvas.
    assertSourcePicture(await videoState(l.page));
    await shot(l.page, 'leader-conference');

    // Speak: the fake camera and microphone go into the conference; the bridge counts a publisher.
    await l.page.locator('#conf-list li[data-conference] button.conf-speak').click();
    const as = await session(srv, 'lead');
    const conf = (await as('GET', '/api/v1/conferences')).json.conferences[0];
    await until('a publisher', async () => {
      const c = (await as('GET', `/api/v1/conferences/${conf.id}`)).json;
      return { ok: c.publishers === 1, publishers: c.publishers, viewers: c.viewers };
    });
    // Leave: the bridge lets go of both streams.
    await l.page.locator('#conf-list li[data-conference] button.conf-leave').click();
    await until('no viewer, no publisher', async () => {
      const c = (await as('GET', `/api/v1/conferences/${conf.id}`)).json;
      return { ok: c.publishers === 0 && c.viewers === 0, publishers: c.publishers, viewers: c.viewers };
    });
    assert.deepEqual(l.errors, []);
    assert.deepEqual(offLoopback(l.requests), [], 'nothing the page loads leaves this machine');

    // A 120 dispatcher: no leadership view, and the conference is not theirs to see.
    const d = await openConsole(browser, srv, { user: 'd120' });
    assert.equal(await d.page.locator('#views button[data-view=leader]').isHidden(), true);
    assert.equal(await d.page.locator('#conf-list').count(), 0);
    assert.deepEqual(d.errors, []);
  } finally {
    await browser.close();
    if (src.proc.exitCode === null) src.proc.kill('SIGTERM');
    await srv.stop();
    srv.cleanup();
  }
});
