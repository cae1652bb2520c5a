// HLS in the leadership view's conference panel, the fallback for passive
// viewers on networks without WebRTC (issue #7), in the real console against
// the real server, with the local RTSP source playing the conference:
//   - a leader chooses HLS by hand: the <video> plays the source's HLS (time
//     advances, frames are decoded, the picture read back through a canvas is
//     the source's), the bridge serves no WebRTC stream meanwhile, the choice
//     is remembered, and every request is on loopback;
//   - the playlist and segments answer a leader, 404 to a dispatcher whose
//     agency has no incident linked, 401 to nobody signed in;
//   - in a page without RTCPeerConnection the console falls back to HLS by
//     itself and says why;
//   - when WebRTC cannot connect (the candidates of either side never reach the
//     other, as behind a firewall) the console gives up on it after 20 s and
//     falls back to HLS by itself, saying why; the bridge lets the stream go;
//   - before the source's first segment is written the panel shows the 404 and
//     asks again, and plays once the source is up; when the source stops and
//     comes back (new timestamps) the picture resumes without a reload.
import { test, before, after } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { spawnListening, until } from './harness.mjs';
import { seededServer, openConsole, session, shot, offLoopback, videoState, assertSourcePicture, CHROMIUM, WAIT } from './browser.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

let src, srv, browser, sup, conf;

before(async () => {
  src = await spawnListening('rtsp-source', RTSP, ['--port', '0', '--size', '640x360', '--fps', '15']);
  srv = await seededServer({
    media: true,
    users: [['lead', 'leader'], ['sup', 'supervisor'], ['d120', 'dispatcher', '120']],
    args: ['--set', 'media.backoff_max_ms=1000'],
  });
  sup = await session(srv, 'sup');
  const made = await sup('POST', '/api/v1/conferences', { name: '省应急指挥视频会商',
    sources: [`rtsp://127.0.0.1:${src.port}/conf`] });
  assert.equal(made.status, 201, made.text);
  conf = made.json;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (src && src.proc.exitCode === null) src.proc.kill('SIGTERM');
  if (srv) {
    // A clean exit (code 0: under ASan, LeakSanitizer found nothing of ours).
    const { code, signal } = await srv.stop();
    const logs = srv.logs.slice(-60).join('\n');
    srv.cleanup();
    assert.equal(code, 0, `the server ended with ${code ?? signal}:\n${logs}`);
  }
});

// The video plays: time advances and frames are decoded, then keep doing so; the picture is
// the source's white ball on black (videotestsrc pattern=ball), not a blank or green frame.
async function assertPlays(page) {
  const first = await until('HLS playback starts', async () => {
    const s = await videoState(page);
    return { ok: s.frames > 10 && s.t > 0, ...s };
  }, WAIT * 3);
  const later = await until('time advances and more frames are decoded', async () => {
    const s = await videoState(page);
    return { ok: s.t > first.t + 2 && s.frames > first.frames + 20, ...s };
  }, WAIT * 2);
  assertSourcePicture(later);
  return { ...later, fps: (later.frames - first.frames) / (later.t - first.t) };
}

const hlsRequests = (requests) => requests.filter((u) => u.includes(`/api/v1/conferences/${conf.id}/hls/0/`));

// openConsole() with every request of the context kept (the HLS worker's included, which
// page-level events may not show), and an init script run before the page's own when given.
async function consoleWith({ init = null } = {}) {
  const all = [];
  const b = {
    newContext: async (o) => {
      const context = await browser.newContext(o);
      context.on('request', (r) => all.push(r.url()));
      if (init) await context.addInitScript(init);
      return context;
    },
  };
  const l = await openConsole(b, srv, { user: 'lead' });
  l.all = all;
  return l;
}

test('a leader chooses HLS: the conference plays over HLS, no WebRTC stream, every request on loopback', async () => {
  const l = await consoleWith();
  await l.page.locator('#view-leader:not([hidden])').waitFor({ timeout: WAIT });
  const item = l.page.locator(`#conf-list li[data-conference="${conf.id}"]`);
  await item.waitFor({ timeout: WAIT });
  await l.page.locator(`#conf-list li.live[data-conference="${conf.id}"]`).waitFor({ timeout: 90000 });

  // The switch: WebRTC by default; HLS chosen.
  assert.equal(await l.page.locator('#conf-mode button[data-mode=webrtc]').getAttribute('aria-pressed'), 'true');
  await l.page.locator('#conf-mode button[data-mode=hls]').click();
  assert.equal(await l.page.locator('#conf-mode button[data-mode=hls]').getAttribute('aria-pressed'), 'true');
  const t0 = Date.now();
  await item.locator('button.conf-watch').click();
  await l.page.locator('#conf-status[data-state=hls-playing]').waitFor({ timeout: WAIT * 3 });
  const startMs = Date.now() - t0;
  assert.match(await l.page.locator('#conf-status').textContent(), /HLS：播放中/);
  const seen = await assertPlays(l.page);
  console.log(`HLS: playing ${startMs} ms after Watch; ${seen.frames} frames decoded by ${seen.t.toFixed(1)} s, ${seen.fps.toFixed(1)} frames/s (the source sends 15)`);
  // The sound too: the source's tone, measured off the video's stream.
  const peak = await l.page.evaluate(async () => {
    const ac = new AudioContext();
    await ac.resume();
    const an = ac.createAnalyser();
    ac.createMediaStreamSource(document.getElementById('conf-video').srcObject).connect(an);
    const buf = new Float32Array(an.fftSize);
    let max = 0;
    for (let i = 0; i < 40 && max < 0.05; i++) {
      await new Promise((r) => setTimeout(r, 100));
      an.getFloatTimeDomainData(buf);
      for (const x of buf) max = Math.max(max, Math.abs(x));
    }
    await ac.close();
    return max;
  });
  assert.ok(peak >= 0.05, `the tone is heard: peak ${peak}`);
  // No manual choice note; and the bridge serves this viewer no WebRTC stream.
  assert.equal(await l.page.locator('#conf-note').isHidden(), true);
  const c = (await sup('GET', `/api/v1/conferences/${conf.id}`)).json;
  assert.equal(c.viewers, 0, JSON.stringify(c));
  // The page read the playlist and segments (with its session cookie: they need one).
  const h = hlsRequests(l.all);
  assert.ok(h.some((u) => u.endsWith('/playlist.m3u8')), h.join('\n'));
  assert.ok(h.some((u) => /\/segment\d{5}\.ts$/.test(u)), h.join('\n'));
  await shot(l.page, 'leader-conference-hls');

  // The choice is remembered: a reload keeps HLS.
  await l.page.reload();
  await l.page.locator('#conf-mode button[data-mode=hls][aria-pressed=true]').waitFor({ timeout: WAIT });
  assert.deepEqual(l.errors, []);
  assert.deepEqual(offLoopback(l.all), [], 'nothing the page loads leaves this machine');
  await l.context.close();
});

test('the HLS files answer only those who may see the conference', async () => {
  const href = conf.sources[0].hls;
  assert.equal(href, `/api/v1/conferences/${conf.id}/hls/0/playlist.m3u8`);
  const lead = await session(srv, 'lead');
  const ok = await lead('GET', href);
  assert.equal(ok.status, 200, ok.text);
  assert.match(ok.text, /^#EXTM3U/);
  const seg = ok.text.split('\n').find((x) => x.endsWith('.ts'));
  assert.equal((await lead('GET', href.replace('playlist.m3u8', seg))).status, 200);
  // A 120 dispatcher: no incident of theirs is linked, so the conference is not theirs to see.
  const d = await session(srv, 'd120');
  for (const p of [href, href.replace('playlist.m3u8', seg)]) {
    const r = await d('GET', p);
    assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
    assert.equal(r.json.error.code, 'not_found');
  }
  // Nobody signed in: 401.
  assert.equal((await srv.get(href)).status, 401);
});

test('a browser without WebRTC: the console falls back to HLS by itself and says why', async () => {
  const l = await consoleWith({ init: () => {
    delete window.RTCPeerConnection;
    delete window.webkitRTCPeerConnection;
  } });
  assert.equal(await l.page.evaluate(() => typeof window.RTCPeerConnection), 'undefined');
  await l.page.locator('#view-leader:not([hidden])').waitFor({ timeout: WAIT });
  const item = l.page.locator(`#conf-list li.live[data-conference="${conf.id}"]`);
  await item.waitFor({ timeout: 90000 });
  // The switch still says WebRTC (nobody chose HLS); speaking needs WebRTC.
  assert.equal(await l.page.locator('#conf-mode button[data-mode=webrtc]').getAttribute('aria-pressed'), 'true');
  assert.equal(await item.locator('button.conf-speak').isDisabled(), true);
  await item.locator('button.conf-watch').click();
  const note = l.page.locator('#conf-note');
  await note.waitFor({ state: 'visible', timeout: WAIT });
  assert.match(await note.textContent(), /不支持 WebRTC.*HLS/);
  await l.page.locator('#conf-status[data-state=hls-playing]').waitFor({ timeout: WAIT * 3 });
  await assertPlays(l.page);
  const c = (await sup('GET', `/api/v1/conferences/${conf.id}`)).json;
  assert.equal(c.viewers, 0, JSON.stringify(c));
  assert.ok(hlsRequests(l.all).length > 0);
  await shot(l.page, 'leader-conference-hls-fallback');
  assert.deepEqual(l.errors, []);
  assert.deepEqual(offLoopback(l.all), []);
  await l.context.close();
});

test('a network where WebRTC cannot connect: the console gives up on it and falls back to HLS by itself', async () => {
  // As behind a firewall that lets no ICE path through: the page's RTCPeerConnection is the
  // browser's own, but the candidates of either side never reach the other.
  const l = await consoleWith({ init: () => {
    const Real = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Real {
      setRemoteDescription(d) {
        return super.setRemoteDescription(d && d.sdp ? { type: d.type, sdp: d.sdp.split('\r\n').filter((x) => !x.startsWith('a=candidate')).join('\r\n') } : d);
      }
      addIceCandidate() { return Promise.resolve(); }
      set onicecandidate(fn) { super.onicecandidate = fn ? () => {} : null; }
      get onicecandidate() { return super.onicecandidate; }
    };
  } });
  const item = l.page.locator(`#conf-list li.live[data-conference="${conf.id}"]`);
  await item.waitFor({ timeout: 90000 });
  await item.locator('button.conf-watch').click();
  // WebRTC is tried first ...
  await l.page.locator('#conf-status[data-state=negotiating]').waitFor({ timeout: WAIT });
  // ... and given up (not connected in 20 s, or ICE failed), with the reason shown.
  const note = l.page.locator('#conf-note');
  await note.waitFor({ state: 'visible', timeout: WAIT * 3 });
  assert.match(await note.textContent(), /WebRTC.*(未能连通|连接中断).*HLS/);
  console.log(`no ICE path: ${await note.textContent()}`);
  await l.page.locator('#conf-status[data-state=hls-playing]').waitFor({ timeout: WAIT * 3 });
  await assertPlays(l.page);
  assert.ok(hlsRequests(l.all).length > 0);
  await until('the WebRTC stream let go', async () => {
    const x = (await sup('GET', `/api/v1/conferences/${conf.id}`)).json;
    return { ok: x.viewers === 0, viewers: x.viewers };
  });
  assert.deepEqual(l.errors, []);
  assert.deepEqual(offLoopback(l.all), []);
  await l.context.close();
});

// A free TCP port on loopback (for a source that starts later).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

test('no segment yet: the panel shows the 404 and retries, plays once the source is up, and again after it restarts', async () => {
  const port = await freePort();
  const made = await sup('POST', '/api/v1/conferences', { name: '尚未开播的会商', sources: [`rtsp://127.0.0.1:${port}/conf`] });
  assert.equal(made.status, 201, made.text);
  const id = made.json.id;
  const l = await consoleWith();
  let late = null;
  try {
    const item = l.page.locator(`#conf-list li[data-conference="${id}"]`);
    await item.waitFor({ timeout: WAIT });
    await l.page.locator('#conf-mode button[data-mode=hls]').click();
    await item.locator('button.conf-watch').click();
    // The source is not there: no playlist yet, said with its reason, and asked again.
    await l.page.locator('#conf-status[data-state=hls-error]').waitFor({ timeout: WAIT });
    const text = await l.page.locator('#conf-status').textContent();
    assert.match(text, /HLS 错误: HTTP 404 not_found \(分段尚未写出\).*正在重试/);
    const playlist = `/api/v1/conferences/${id}/hls/0/playlist.m3u8`;
    await until('the playlist asked for again', async () => {
      const n = l.all.filter((u) => u.endsWith(playlist)).length;
      return { ok: n >= 2, n };
    });
    // The source comes up: the bridge reconnects, writes segments, and the panel plays.
    late = await spawnListening('rtsp-source', RTSP, ['--port', String(port), '--size', '640x360', '--fps', '15']);
    await l.page.locator('#conf-status[data-state=hls-playing]').waitFor({ timeout: WAIT * 3 });
    await assertPlays(l.page);

    // The source stops and comes back (new timestamps): the picture resumes without a reload.
    const sourceState = async () => (await sup('GET', `/api/v1/conferences/${id}`)).json.sources[0].state;
    late.proc.kill('SIGTERM');
    await until('the source down', async () => { const st = await sourceState(); return { ok: st !== 'live', st }; }, WAIT * 3);
    const stalled = await until('the picture stops', async () => {
      const a = await videoState(l.page);
      await new Promise((r) => setTimeout(r, 1000));
      const b = await videoState(l.page);
      return { ok: b.frames === a.frames, frames: b.frames };
    }, WAIT * 3);
    late = await spawnListening('rtsp-source', RTSP, ['--port', String(port), '--size', '640x360', '--fps', '15']);
    await until('the source live again', async () => { const st = await sourceState(); return { ok: st === 'live', st }; }, WAIT * 3);
    await until('frames again after the restart', async () => {
      const s2 = await videoState(l.page);
      return { ok: s2.frames > stalled.frames + 30, frames: s2.frames, stalled: stalled.frames };
    }, WAIT * 3);
    assert.deepEqual(l.errors, []);
    assert.deepEqual(offLoopback(l.all), []);
  } finally {
    await l.context.close();
    if (late && late.proc.exitCode === null) late.proc.kill('SIGTERM');
  }
});
