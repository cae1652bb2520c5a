// The return feed: a leader's browser (Chromium with its fake camera and
// microphone) publishes into the conference; the bridge tiles publishers on a
// canvas (compositor) and mixes their sound (audiomixer), encodes, and sends
// RTP to the conference's return URI, where separate GStreamer pipelines
// (gst-launch-1.0) receive it: the publisher's tile turns from black to its
// picture, and Opus audio arrives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import dgram from 'node:dgram';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, spawnListening, until } from './harness.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

let src, srv, browser, port, video, audio;

// An even UDP port P with P+2 free too (bound and released: the receivers take them next).
async function freePair() {
  for (;;) {
    const a = dgram.createSocket('udp4');
    await new Promise((r) => a.bind(0, '127.0.0.1', r));
    const p = a.address().port & ~1;
    a.close();
    if (p < 1024 || p > 65000) continue;
    const ok = await Promise.all([p, p + 2].map((q) => new Promise((r) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => r(false));
      s.bind(q, '127.0.0.1', () => { s.close(); r(true); });
    })));
    if (ok.every(Boolean)) return p;
  }
}

// Mean luminance of the top-left 320x180 tile of the newest 640x360 GRAY8 frame.
function tileMean(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.gray') && statSync(path.join(dir, f)).size === 640 * 360);
  if (files.length < 2) return null;
  files.sort();
  const buf = readFileSync(path.join(dir, files[files.length - 2])); // the one before the newest is complete
  let sum = 0;
  for (let y = 0; y < 180; y++) for (let x = 0; x < 320; x++) sum += buf[y * 640 + x];
  return sum / (320 * 180);
}

before(async () => {
  src = await spawnListening('rtsp-source', RTSP, ['--size', '320x180', '--fps', '15']);
  srv = await startServer({ media: true });
  port = await freePair();
  const frames = path.join(srv.dataDir, 'frames');
  mkdirSync(frames);
  video = spawn('gst-launch-1.0', ['-q', 'udpsrc', `port=${port}`, 'address=127.0.0.1',
    'caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96', '!',
    'rtph264depay', '!', 'h264parse', '!', 'avdec_h264', '!', 'videoconvert', '!',
    'video/x-raw,format=GRAY8,width=640,height=360', '!',
    'multifilesink', `location=${frames}/f%06d.gray`, 'max-files=4'], { stdio: 'ignore' });
  video.frames = frames;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
});

after(async () => {
  if (browser) await browser.close();
  video.kill('SIGTERM');
  if (audio && audio.exitCode === null) audio.kill('SIGTERM');
  src.proc.kill('SIGTERM');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

test('a published camera and microphone reach the return feed, received by gst-launch', async (t) => {
  const bad = await srv.post('/api/v1/conferences', { name: 'r', sources: [`rtsp://127.0.0.1:${src.port}/conf`], return: 'rtp://127.0.0.1:5005' });
  assert.equal(bad.status, 422);
  assert.match(bad.json.error.detail || bad.json.error.message, /even port/);
  const r = await srv.post('/api/v1/conferences', {
    name: '回传测试', sources: [`rtsp://127.0.0.1:${src.port}/conf`], return: `rtp://127.0.0.1:${port}`,
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.return, `rtp://127.0.0.1:${port}`);
  const id = r.json.id;

  // The mix runs before anyone publishes: a black canvas.
  const black = await until('the black canvas', async () => {
    const m = tileMean(video.frames);
    return { ok: m !== null && m < 30, mean: m };
  });

  // A leader's page watches and publishes.
  const page = await browser.newPage();
  await page.goto(`${srv.base}/conference-test.html?conference=${id}&publish=1`);
  await until('published', async () => {
    const s = await page.evaluate(() => window.conference && window.conference.publish);
    return { ok: s === 'connected', s };
  });
  assert.equal((await srv.get(`/api/v1/conferences/${id}`)).json.publishers, 1);

  // The publisher's tile is no longer black on the receiving side.
  const lit = await until('the publisher in the return feed', async () => {
    const m = tileMean(video.frames);
    return { ok: m !== null && m > black.mean + 30, mean: m };
  });
  assert.ok(lit.mean > black.mean + 30);
  t.diagnostic(`publisher tile mean luminance: ${black.mean.toFixed(1)} before, ${lit.mean.toFixed(1)} published`);

  // Audio: Opus on port+2, decoded by another pipeline that exits after 100 buffers.
  audio = spawn('gst-launch-1.0', ['-q', 'udpsrc', `port=${port + 2}`, 'address=127.0.0.1',
    'caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=97', '!',
    'rtpopusdepay', '!', 'opusdec', '!', 'fakesink', 'num-buffers=100'], { stdio: 'ignore' });
  const code = await new Promise((res) => {
    const t = setTimeout(() => { audio.kill('SIGTERM'); res('timeout'); }, 60000);
    audio.on('exit', (c) => { clearTimeout(t); res(c); });
  });
  assert.equal(code, 0, 'the return feed audio was received and decoded');

  // The publisher leaves: its tile goes back to black, the feed runs on.
  await page.evaluate(() => window.conference.cc.leave());
  await until('the tile black again', async () => {
    const m = tileMean(video.frames);
    return { ok: m !== null && m < 30, mean: m };
  });
  assert.equal((await srv.get(`/api/v1/conferences/${id}`)).json.publishers, 0);
  await page.close();
});
