// SRT and RTP besides RTSP. gst-launch-1.0 plays the provincial side:
//   1. an SRT listener sending H.264 + Opus in MPEG-TS: the conference's
//      srt:// source goes live, a viewer is offered H.264 with the stream's
//      profile, and a recorded segment holds H.264 + Opus (gst-discoverer);
//   2. RTP to a port (H.264) and port+2 (Opus): the same for an rtp:// source;
//   3. the mixed return feed over SRT to a listener, saved by gst-launch and
//      read by gst-discoverer as H.264 + Opus; and over RTSP record to an RTSP
//      server (liandong-rtsp-source --record) that writes what it gets to a file;
//   4. malformed srt:// and rtp:// URIs get 422 with the reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startServer, spawnListening, report, until, Console } from './harness.mjs';

let srv;
const procs = [];

before(async () => {
  srv = await startServer({ media: true, args: ['--set', 'media.segment_s=2'] });
});

after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

// A free even UDP/TCP port pair below the ephemeral range (so nothing else takes it meanwhile).
async function freePort() {
  for (let i = 0; i < 50; i++) {
    const port = 2 * Math.floor(10000 + Math.random() * 5000);
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.on('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port');
}

function gst(args) {
  const p = spawn('gst-launch-1.0', ['-q', ...args.split(' ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  p.errText = () => err;
  procs.push(p);
  return p;
}

// H.264 (constrained baseline, as a province's encoder would send) and Opus, 320x180 at 15 fps.
const VIDEO = 'videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=15/1 ! ' +
  'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! video/x-h264,profile=constrained-baseline';
const AUDIO = 'audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=2 ! opusenc';

async function conference(name, uri, extra = {}) {
  const c = await srv.post('/api/v1/conferences', { name, sources: [uri], ...extra });
  assert.equal(c.status, 201, c.text);
  return c.json.id;
}

async function waitLive(id) {
  return until(`conference ${id} live`, async () => {
    const g = (await srv.get(`/api/v1/conferences/${id}`)).json;
    return { ok: g.sources[0].state === 'live', source: g.sources[0] };
  }, 30000);
}

// A viewer is offered H.264 with the profile the source sends (42c0xx: constrained baseline).
async function offered(id) {
  const con = await Console.open(srv.port, 0);
  await con.waitFor((f) => f.type === 'welcome');
  con.send({ type: 'rtc.join', conference: id });
  const offer = await con.waitFor((f) => f.type === 'rtc.offer', 30000, 'offer');
  await con.close();
  return offer.sdp;
}

// The return feed as the far end saved it: over 200 kB on file, then read by gst-discoverer-1.0
// as the 640x360 mix in H.264 with Opus. peer() says how the far end is doing, for a timeout.
async function assertReturnFeed(file, peer) {
  await until(`the return feed in ${file}`, async () => {
    let size = 0;
    try { size = statSync(file).size; } catch { /* not yet */ }
    return { ok: size > 200000, size, peer: peer() };
  }, 60000);
  const out = execFileSync('gst-discoverer-1.0', [file], { encoding: 'utf8' });
  assert.match(out, /H\.264/);
  assert.match(out, /Opus/);
  assert.match(out, /Width: 640/);
}

async function recordedSegment(id) {
  const { list } = await until(`a segment of ${id}`, async () => {
    const r = await srv.get(`/api/v1/conferences/${id}/recordings`);
    const g = (await srv.get(`/api/v1/conferences/${id}`)).json;
    return { ok: r.json.recordings.length >= 2, list: r.json.recordings, source: g.sources[0],
      log: srv.logs.filter((l) => /mod=conf|level=(warn|error)/.test(l)).slice(-8) };
  }, 60000);
  const seg = list[list.length - 1];
  const body = Buffer.from(await (await fetch(srv.base + seg.href)).arrayBuffer());
  const file = path.join(srv.dataDir, `seg-${id}.mp4`);
  writeFileSync(file, body);
  return execFileSync('gst-discoverer-1.0', [file], { encoding: 'utf8' });
}

test('an srt:// source (MPEG-TS with H.264 and Opus from an SRT listener) is pulled, offered and recorded', async () => {
  const port = await freePort();
  gst(`${VIDEO} ! h264parse ! mpegtsmux name=m alignment=7 ! srtsink uri=srt://127.0.0.1:${port}?mode=listener ` +
    `wait-for-connection=false ${AUDIO} ! m.`);
  const id = await conference('SRT 会商', `srt://127.0.0.1:${port}?mode=caller&latency=120`);
  await waitLive(id);
  const sdp = await offered(id);
  assert.match(sdp, /a=rtpmap:\d+ H264\/90000/);
  assert.match(sdp, /profile-level-id=42c0/i);
  assert.match(sdp, /a=rtpmap:\d+ OPUS\/48000\/2/i);
  const out = await recordedSegment(id);
  assert.match(out, /H\.264/);
  assert.match(out, /Opus/);
});

test('an rtp:// source (H.264 on the port, Opus on port+2) is received, offered and recorded', async () => {
  const port = await freePort();
  gst(`${VIDEO} ! rtph264pay pt=96 config-interval=-1 ! udpsink host=127.0.0.1 port=${port} ` +
    `${AUDIO} ! rtpopuspay pt=97 ! udpsink host=127.0.0.1 port=${port + 2}`);
  const id = await conference('RTP 会商', `rtp://127.0.0.1:${port}`);
  await waitLive(id);
  // Recorded first: by then the Opus stream, on a port of its own, has arrived too.
  const out = await recordedSegment(id);
  assert.match(out, /H\.264/);
  assert.match(out, /Opus/);
  const sdp = await offered(id);
  assert.match(sdp, /profile-level-id=42c0/i);
  assert.match(sdp, /OPUS\/48000/i);
});

test('the return feed over SRT: failed and retried while nobody listens, then H.264 + Opus in MPEG-TS reaches the listener', async () => {
  const port = await freePort();
  const file = path.join(srv.dataDir, 'return.ts');
  const src = await freePort();
  gst(`${VIDEO} ! rtph264pay pt=96 config-interval=-1 ! udpsink host=127.0.0.1 port=${src}`);
  const id = await conference('SRT 回传', `rtp://127.0.0.1:${src}`, { return: `srt://127.0.0.1:${port}` });
  // Nobody listens yet: the state says so, with the reason, and the bridge keeps trying.
  const failed = await until('the return feed failed', async () => {
    const g = (await srv.get(`/api/v1/conferences/${id}`)).json;
    return { ok: g.return_state === 'failed', g };
  }, 30000);
  assert.ok(failed.g.return_message, JSON.stringify(failed.g));
  const rx = gst(`srtsrc uri=srt://127.0.0.1:${port}?mode=listener ! filesink location=${file}`);
  await assertReturnFeed(file, () => rx.errText());
  assert.equal((await srv.get(`/api/v1/conferences/${id}`)).json.return_state, 'running');
  assert.ok(srv.logs.some((l) => /msg="return feed".*state=failed/.test(l)));
});

test('the return feed over RTSP record: H.264 + Opus published to the province\'s RTSP server', async () => {
  const RTSP = process.env.LIANDONG_RTSP_SOURCE;
  assert.ok(RTSP, 'LIANDONG_RTSP_SOURCE is not set (run through ctest)');
  const file = path.join(srv.dataDir, 'return-rtsp.ts');
  // The province's server: liandong-rtsp-source takes what is published to /return into a file.
  const province = await spawnListening('rtsp-server', RTSP, ['--size', '320x180', '--fps', '15', '--record', file]);
  procs.push(province.proc);
  const src = await freePort();
  gst(`${VIDEO} ! rtph264pay pt=96 config-interval=-1 ! udpsink host=127.0.0.1 port=${src}`);
  const id = await conference('RTSP 回传', `rtp://127.0.0.1:${src}`,
    { return: `rtsp://127.0.0.1:${province.port}/return` });
  await assertReturnFeed(file, () => province.logs.slice(-3));
  assert.equal((await srv.get(`/api/v1/conferences/${id}`)).json.return_state, 'running');
});

test('malformed srt:// and rtp:// URIs are refused with the reason, and nothing is created', async () => {
  const before = (await srv.get('/api/v1/conferences')).json.conferences.length;
  const cases = [
    [{ sources: ['srt://:9000'] }, /caller needs the host/],
    [{ sources: ['srt://h:9000?mode=server'] }, /mode=caller, listener or rendezvous/],
    [{ sources: ['srt://h'] }, /port/],
    [{ sources: ['srt://h:9000/x'] }, /no path/],
    [{ sources: ['rtp://127.0.0.1:5001'] }, /even port/],
    [{ sources: ['rtp://127.0.0.1:5000/x'] }, /only rtp:\/\/host:port/],
    [{ sources: ['rtp://:5000'] }, /needs the address/],
    [{ sources: ['udp://h:5000'] }, /rtsp, rtspt, rtsps, srt or rtp/],
    [{ sources: ['rtsp://h/x'], return: 'http://h/x' }, /rtp:\/\/host:port, srt:\/\/host:port or rtsp:/],
    [{ sources: ['rtsp://h/x'], return: 'rtsp:///x' }, /needs the host/],
    [{ sources: ['rtsp://h/x'], return: 'srt://h:70000' }, /1-65535/],
  ];
  for (const [body, why] of cases) {
    const r = await srv.post('/api/v1/conferences', { name: 'bad', ...body });
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(`${r.json.error.message} ${r.json.error.detail || ''}`, why, JSON.stringify(body));
  }
  // A listener needs no host.
  const ok = await srv.post('/api/v1/conferences', { name: 'SRT listener', sources: ['srt://:19000?mode=listener'] });
  assert.equal(ok.status, 201, ok.text);
  assert.equal((await srv.get('/api/v1/conferences')).json.conferences.length, before + 1);
});
