// Headless Chromium watches a conference fed by the local RTSP source, through
// the real server: the test page (web-console/conference-test.html) drives
// ConferenceClient over the console WebSocket. Video is decoded
// (framesDecoded rising) and audio received (samples rising); the source is
// killed and restarted on the same port, and the same page, never reloaded,
// decodes again. A second viewer joins late and gets a picture too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { startServer, spawnListening, until } from './harness.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

let src, srv, browser, port, confId;

const startSource = (p = 0) =>
  spawnListening('rtsp-source', RTSP, ['--port', String(p), '--size', '640x360', '--fps', '15']);

// The page's ConferenceClient reaches connected (on failure: its log and the server's).
async function connected(page) {
  try {
    await page.waitForFunction(() => window.conference && window.conference.cc.state === 'connected', null, { timeout: 60000 });
  } catch (e) {
    const log = await page.evaluate(() => document.getElementById('log').textContent).catch(() => '?');
    throw new Error(`not connected: ${e.message}\npage log:\n${log}\nserver:\n${srv.logs.slice(-30).join('\n')}`);
  }
}

const stats = (page) => page.evaluate(() => window.conference.stats());

// framesDecoded and audio samples both grow past the given marks.
async function decodingPast(page, what, mark = { frames: 0, samples: 0, packets: 0 }) {
  return until(what, async () => {
    const s = await stats(page);
    const frames = s.video ? s.video.framesDecoded : 0;
    const samples = s.audio ? s.audio.totalSamplesReceived : 0;
    const packets = s.audio ? s.audio.packetsReceived : 0;
    return { ok: frames > mark.frames + 10 && samples > mark.samples && packets > mark.packets + 10, frames, samples, packets };
  }, 90000);
}

before(async () => {
  src = await startSource();
  port = src.port;
  srv = await startServer({ media: true, args: ['--set', 'media.backoff_max_ms=1000'] });
  const r = await srv.post('/api/v1/conferences', { name: '省应急视频会商', sources: [`rtsp://127.0.0.1:${port}/conf`] });
  assert.equal(r.status, 201, r.text);
  confId = r.json.id;
  await until('the source live', async () => {
    const c = (await srv.get(`/api/v1/conferences/${confId}`)).json;
    return { ok: c.sources[0].state === 'live', state: c.sources[0].state };
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required',
      '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
});

after(async () => {
  if (browser) await browser.close();
  // A clean exit (code 0: under ASan, LeakSanitizer found nothing of ours).
  if (src.proc.exitCode === null) src.proc.kill('SIGTERM');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

test('Chromium decodes the conference, survives the source restarting, and a late joiner gets a picture', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${srv.base}/conference-test.html?conference=${confId}`);
  await connected(page);

  const first = await decodingPast(page, 'video and audio decoding');
  const s = await stats(page);
  assert.ok(s.video.framesDecoded > 10, JSON.stringify(s));
  assert.ok(s.audio.packetsReceived > 10, JSON.stringify(s));
  assert.equal((await srv.get(`/api/v1/conferences/${confId}`)).json.viewers, 1);

  // The participant was recorded (conference.joined, journaled with its actor).
  await until('participant recorded', async () => {
    const c = (await srv.get(`/api/v1/conferences/${confId}`)).json;
    return { ok: c.participants.length === 1, participants: c.participants };
  });

  // The source dies: the consoles hear it; the page stays as it is.
  src.proc.kill('SIGKILL');
  await until('the source reported lost', async () => {
    const c = (await srv.get(`/api/v1/conferences/${confId}`)).json;
    return { ok: c.sources[0].state !== 'live', state: c.sources[0].state };
  });
  await page.waitForFunction(() => document.getElementById('source').textContent !== 'live', null, { timeout: 30000 });
  const stalled = await stats(page);

  // Back on the same port: the same page decodes again, without a reload.
  src = await startSource(port);
  await until('the source live again', async () => {
    const c = (await srv.get(`/api/v1/conferences/${confId}`)).json;
    return { ok: c.sources[0].state === 'live', state: c.sources[0].state };
  });
  await decodingPast(page, 'decoding after the restart', {
    frames: stalled.video.framesDecoded, samples: stalled.audio.totalSamplesReceived,
    packets: stalled.audio.packetsReceived,
  });
  assert.ok(first.frames > 0);

  // A second viewer joins late: it gets a picture (parameter sets repeated, keyframe each second).
  const late = await browser.newPage();
  await late.goto(`${srv.base}/conference-test.html?conference=${confId}`);
  await connected(late);
  await decodingPast(late, 'the late joiner decoding');
  assert.equal((await srv.get(`/api/v1/conferences/${confId}`)).json.viewers, 2);

  // Leaving closes only that stream; the first page keeps decoding.
  await late.evaluate(() => window.conference.cc.leave());
  await until('one viewer left', async () => {
    const c = (await srv.get(`/api/v1/conferences/${confId}`)).json;
    return { ok: c.viewers === 1, viewers: c.viewers };
  });
  const before2 = await stats(page);
  await decodingPast(page, 'the first page still decoding', {
    frames: before2.video.framesDecoded, samples: before2.audio.totalSamplesReceived,
    packets: before2.audio.packetsReceived,
  });
  assert.deepEqual(errors, []);
  await late.close();
  await page.close();
});
