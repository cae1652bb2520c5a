// bench/media/viewers.mjs - the bridge's cost per WebRTC viewer and its
// glass-to-glass latency, beside janus's streaming plugin in the same run.
//
// One source (liandong-rtsp-source, SIZE at FPS, --flash FLASH) feeds both
// servers over RTSP: `liandong serve` with one conference on it, and Debian's
// janus with a streaming mountpoint of type "rtsp" on the same URL (the
// source's media factory is shared: both get the same RTP, H.264 and Opus,
// passed through). For each step of STEPS, one server then the other
// (liandong first at the 1st, 3rd... step, janus first at the others), it
// opens that many headless Chromium pages watching the server (liandong:
// web-console's conference-test.html; janus: janus.html here, speaking
// janus's HTTP API), waits until every page decodes, samples the server's
// process for SAMPLE seconds (CPU from /proc/PID/stat, RSS), counts the frames
// each page decoded meanwhile and the flashes it saw (flash.js), then closes
// the pages and waits until the server has no viewer left.
// Exits 1 when a server dies, a page never decodes or a viewer never leaves.
// Run by run.sh; see README.md.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.ROOT, 'tests', 'package.json'));
const { chromium } = require('playwright-core');

const BUILD = process.env.BUILD;
const ROOT = process.env.ROOT;
const HERE = path.join(ROOT, 'bench', 'media');
const STEPS = (process.env.STEPS || '1,2,5,10,20').split(',').map(Number);
const SAMPLE = Number(process.env.SAMPLE || 20);
const SIZE = process.env.SIZE || '1280x720';
const FPS = process.env.FPS || '30';
const FLASH = Number(process.env.FLASH || 1000);
const JANUS = process.env.JANUS || 'janus';
const JANUS_LIB = process.env.JANUS_LIB || '/usr/lib/x86_64-linux-gnu/janus';
const HZ = 100; // USER_HZ on Linux
const MiB = 1048576;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const note = (line) => process.stderr.write(`bench/media: ${line}\n`);

// --- processes -------------------------------------------------------------
const procs = [];
let stopping = false;
const failures = [];

function start(name, bin, args) {
  const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  p.tail = '';
  const keep = (d) => { p.tail = (p.tail + d.toString()).slice(-4000); };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  p.exited = new Promise((r) => p.on('exit', (code, sig) => {
    if (!stopping) failures.push(`${name} exited (${code ?? sig}) during the run: ${p.tail}`);
    r();
  }));
  p.on('error', (e) => failures.push(`${name}: ${e.message}`));
  procs.push(p);
  return p;
}

// The port of a process that logs msg="listening" ... port=N on stderr.
function listening(p) {
  return new Promise((resolve, reject) => {
    let buf = '';
    p.stderr.on('data', (d) => {
      buf += d.toString();
      const m = buf.match(/msg="listening".* port=(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    p.on('exit', (c) => reject(new Error(`exited ${c}: ${buf}`)));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function until(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (failures.length) throw new Error(failures.join('\n'));
    try { if (await fn()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function procStat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]); // utime + stime
  const rss = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
  return { ticks, rss };
}

async function sample(pid) {
  const a = procStat(pid);
  const t0 = Date.now();
  await sleep(SAMPLE * 1000);
  const b = procStat(pid);
  const secs = (Date.now() - t0) / 1000;
  return { cpu: ((b.ticks - a.ticks) / HZ / secs) * 100, rss: b.rss };
}

// --- the source --------------------------------------------------------------
const srcArgs = ['--size', SIZE, '--fps', FPS];
if (FLASH > 0) srcArgs.push('--flash', String(FLASH));
const src = start('liandong-rtsp-source', path.join(BUILD, 'media/liandong-rtsp-source'), srcArgs);
const flashes = []; // {n, colour, t (ms, wall clock)}
{
  let buf = '';
  src.stdout.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const m = buf.slice(0, i).match(/^flash n=(\d+) color=(\w+) t_us=(\d+)$/);
      buf = buf.slice(i + 1);
      if (m) flashes.push({ n: Number(m[1]), colour: m[2], t: Number(m[3]) / 1000 });
    }
  });
}
const srcPort = await listening(src);
const srcUrl = `rtsp://127.0.0.1:${srcPort}/conf`;

const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-media-'));

// --- liandong ----------------------------------------------------------------
const srv = start('liandong', path.join(BUILD, 'server/liandong'), ['serve', '--port', '0', '--data', path.join(dir, 'data'),
  '--console', path.join(ROOT, 'web-console', 'dist'), '--set', 'console.auth=open', '--set', 'intake.auth=open',
  '--set', 'media.max_viewers=64']);
const port = await listening(srv);
const base = `http://127.0.0.1:${port}`;

// --- janus: its own configuration folder, HTTP transport on loopback only ----
function janusConfig(jdir, httpPort) {
  const others = (sub, keep) => readdirSync(path.join(JANUS_LIB, sub))
    .filter((f) => f.endsWith('.so') && f !== keep).join(',');
  mkdirSync(jdir);
  writeFileSync(path.join(jdir, 'janus.jcfg'), `general: {
	configs_folder = "${jdir}"
	plugins_folder = "${JANUS_LIB}/plugins"
	transports_folder = "${JANUS_LIB}/transports"
	events_folder = "${JANUS_LIB}/events"
	loggers_folder = "${JANUS_LIB}/loggers"
	debug_level = 4
}
certificates: {
}
media: {
}
nat: {
	ice_ignore_list = "vmnet"
}
plugins: {
	disable = "${others('plugins', 'libjanus_streaming.so')}"
}
transports: {
	disable = "${others('transports', 'libjanus_http.so')}"
}
loggers: {
	disable = "${others('loggers', '')}"
}
events: {
	broadcast = false
}
`);
  writeFileSync(path.join(jdir, 'janus.transport.http.jcfg'), `general: {
	json = "compact"
	base_path = "/janus"
	http = true
	port = ${httpPort}
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
`);
  writeFileSync(path.join(jdir, 'janus.plugin.streaming.jcfg'), `general: {
}
conf: {
	type = "rtsp"
	id = 1
	description = "liandong-rtsp-source, the same shared stream liandong pulls"
	audio = true
	video = true
	url = "${srcUrl}"
}
`);
}
const janusPort = await freePort();
const jdir = path.join(dir, 'janus');
janusConfig(jdir, janusPort);
const janus = start('janus', JANUS, ['-C', path.join(jdir, 'janus.jcfg'), '-F', jdir, '-o']);
const janusApi = `http://127.0.0.1:${janusPort}/janus`;

let txn = 0;
async function jpost(url, msg) {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify({ ...msg, transaction: `b${++txn}` }) });
  const j = await r.json();
  if (j.janus === 'error') throw new Error(`janus: ${j.error.reason}`);
  return j;
}
// The mountpoint's info (viewers, media and the age of their last packet).
async function janusInfo() {
  const s = (await jpost(janusApi, { janus: 'create' })).data.id;
  try {
    const h = (await jpost(`${janusApi}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id;
    const r = await jpost(`${janusApi}/${s}/${h}`, { janus: 'message', body: { request: 'info', id: 1 } });
    const d = r.plugindata.data;
    if (d.error) throw new Error(`janus: ${d.error}`);
    return d.info;
  } finally {
    await jpost(`${janusApi}/${s}`, { janus: 'destroy' }).catch(() => {});
  }
}

// --- the janus page, served by a static server of our own --------------------
const pages = new Map([['/janus.html', 'text/html'], ['/janus.js', 'text/javascript']]);
const stat = http.createServer((req, res) => {
  const p = new URL(req.url, 'http://x').pathname;
  if (!pages.has(p)) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': `${pages.get(p)}; charset=utf-8` }).end(readFileSync(path.join(HERE, p.slice(1))));
});
await new Promise((r) => stat.listen(0, '127.0.0.1', r));
const statBase = `http://127.0.0.1:${stat.address().port}`;

// --- the two servers, as the steps see them ------------------------------------
const servers = [
  {
    name: 'liandong',
    pid: srv.pid,
    conf: 0,
    url() { return `${base}/conference-test.html?conference=${this.conf}`; },
    connected: () => window.conference && window.conference.cc.state === 'connected',
    pc: 'window.conference.cc.peerConnection',
    leave: () => window.conference.cc.leave(),
    async viewers() { return (await (await fetch(`${base}/api/v1/conferences/${this.conf}`)).json()).viewers; },
  },
  {
    name: 'janus',
    pid: janus.pid,
    url() { return `${statBase}/janus.html?janus=${encodeURIComponent(janusApi)}&id=1`; },
    connected: () => window.viewer && window.viewer.state === 'connected',
    pc: 'window.viewer.pc',
    leave: () => window.viewer.close(),
    async viewers() { return (await janusInfo()).viewers; },
  },
];

// The page's inbound video counters (the expression names its RTCPeerConnection).
async function videoStats(pc) {
  let out = { frames: 0, bytes: 0 };
  if (!pc) return out;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') out = { frames: r.framesDecoded || 0, bytes: r.bytesReceived || 0 };
  });
  return out;
}
const statsOf = (page, s) => page.evaluate(`(${videoStats.toString()})(${s.pc})`);

const median = (a) => a[Math.floor((a.length - 1) / 2)];
const p95 = (a) => a[Math.max(0, Math.ceil(a.length * 0.95) - 1)];

// Match each page's flashes with the source's: a flash's first frame (white
// or green; when the page missed it, its second, red or blue) seen at time T
// is the newest frame of that colour the source produced at or before T (the
// colours alternate, so a latency up to 2 x FLASH is not mistaken for the
// next flash's). Only flashes the source made between w0 and w1 count
// (expected = those x pages).
const FIRST = new Set(['white', 'green']);
function latency(seenByPage, w0, w1) {
  const inWindow = new Set(flashes.filter((f) => FIRST.has(f.colour) && f.t >= w0 && f.t <= w1).map((f) => f.n));
  const shown = [], received = [];
  for (const seen of seenByPage) {
    const best = new Map(); // n -> {colour, shown, received}
    for (const s of seen) {
      let match = null;
      for (const f of flashes) if (f.colour === s.colour && f.t <= s.shown && (!match || f.t > match.t)) match = f;
      if (!match || !inWindow.has(match.n)) continue;
      const prev = best.get(match.n);
      if (prev && FIRST.has(prev.colour)) continue;
      best.set(match.n, { colour: s.colour, shown: s.shown - match.t, received: s.received === null ? null : s.received - match.t });
    }
    for (const b of best.values()) {
      shown.push(b.shown);
      if (b.received !== null) received.push(b.received);
    }
  }
  shown.sort((a, b) => a - b);
  received.sort((a, b) => a - b);
  return { n: shown.length, expected: inWindow.size * seenByPage.length, shown, received };
}

async function step(browser, s, n) {
  const open = [];
  try {
    for (let i = 0; i < n; i++) {
      const p = await browser.newPage();
      open.push(p);
      await p.addInitScript({ path: path.join(HERE, 'flash.js') });
      await p.goto(s.url());
    }
    for (const p of open) {
      await p.waitForFunction(s.connected, null, { timeout: 120000, polling: 250 });
    }
    // Every page decodes before the sample starts; one that never does fails the run.
    for (const p of open) {
      await until(`a ${s.name} page to decode`, async () => (await statsOf(p, s)).frames > 0, 120000);
    }
    const v0 = await Promise.all(open.map((p) => statsOf(p, s)));
    const w0 = Date.now();
    const smp = await sample(s.pid);
    const w1 = Date.now() - Math.min(FLASH, 500); // the last flashes' frames are still on their way
    const v1 = await Promise.all(open.map((p) => statsOf(p, s)));
    const secs = (Date.now() - w0) / 1000;
    const seen = await Promise.all(open.map((p) => p.evaluate(() => window.benchFlashes || [])));
    let minFrames = Infinity, bytes = 0;
    v1.forEach((v, i) => { minFrames = Math.min(minFrames, v.frames - v0[i].frames); bytes += v.bytes - v0[i].bytes; });
    if (minFrames <= 0) throw new Error(`a ${s.name} viewer decoded no frame during the ${SAMPLE} s sample`);
    const kbps = (bytes * 8) / 1000 / secs / n;
    return { ...smp, minFrames, kbps, lat: FLASH > 0 ? latency(seen, w0, w1) : null };
  } finally {
    for (const p of open) await p.evaluate(s.leave).catch(() => {});
    for (const p of open) await p.close().catch(() => {});
    await until(`${s.name} to have no viewer left`, async () => (await s.viewers()) === 0, 60000);
  }
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const f1 = (x) => x.toFixed(1), f2 = (x) => x.toFixed(2);
const ms = (a, f) => (a.length ? String(Math.round(f(a))) : '-');

let browser = null;
try {
  const r = await fetch(`${base}/api/v1/conferences`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', sources: [srcUrl] }),
  });
  servers[0].conf = (await r.json()).id;
  await until('the liandong conference source to be live', async () =>
    (await (await fetch(`${base}/api/v1/conferences/${servers[0].conf}`)).json()).sources[0].state === 'live', 60000);
  await until('janus to receive the mountpoint\'s video', async () => {
    const info = await janusInfo();
    return (info.media || []).some((m) => m.type === 'video' && m.age_ms !== undefined && m.age_ms < 1000);
  }, 60000);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });

  const load0 = loadavg();
  const zero = {};
  for (const s of servers) zero[s.name] = await sample(s.pid);
  const rows = [];
  for (const [i, n] of STEPS.entries()) {
    const row = { n };
    // Which goes first alternates from step to step, so that neither always
    // opens its pages just after the other's were closed.
    for (const s of i % 2 ? [...servers].reverse() : servers) {
      row[s.name] = await step(browser, s, n);
      const x = row[s.name];
      note(`${s.name} ${n} viewer(s): ${f1(x.cpu)} % CPU, ${f1(x.rss / MiB)} MiB, load average ${loadavg()}` +
        (x.lat ? `, latency median ${ms(x.lat.shown, median)} ms (${x.lat.n}/${x.lat.expected} flashes)` : ''));
    }
    rows.push(row);
  }

  console.log(`source ${SIZE}@${FPS} H.264 (x264 bitrate=1500) + Opus over RTSP to both servers; ${SAMPLE} s samples; ` +
    `servers one after the other at each step, liandong first at the 1st, 3rd, 5th step, janus first at the others; load average ${load0} at the start, ${loadavg()} at the end, on ${os.cpus().length} CPUs`);
  console.log('\nCPU and RSS of each server process (viewers = headless Chromium pages; frames = fewest any page decoded ' +
    'in the sample; kbit/s = video received per page, mean)');
  const hdr = 'cpu%   rss_MiB  cpu%/viewer  MiB/viewer  frames  kbit/s';
  console.log(`viewers | liandong: ${hdr} | janus: ${hdr}`);
  const cols = (x, z, n) => `${f1(x.cpu).padStart(4)}  ${f1(x.rss / MiB).padStart(7)}  ` +
    (n ? `${f2((x.cpu - z.cpu) / n).padStart(11)}  ${f2((x.rss - z.rss) / n / MiB).padStart(10)}  ${String(x.minFrames).padStart(6)}  ${String(Math.round(x.kbps)).padStart(6)}`
      : `${''.padStart(11)}  ${''.padStart(10)}  ${''.padStart(6)}  ${''.padStart(6)}`);
  const line = (n, l, j) => `${String(n).padStart(7)} |           ${cols(l, zero.liandong, n)} |        ${cols(j, zero.janus, n)}`;
  console.log(line(0, zero.liandong, zero.janus));
  for (const r of rows) console.log(line(r.n, r.liandong, r.janus));

  if (FLASH > 0) {
    console.log(`\nGlass-to-glass latency, ms: source frame leaving videotestsrc -> the page presenting it ` +
      `(requestVideoFrameCallback presentationTime); rx = its last packet received; one flash every ${FLASH} ms, all pages pooled`);
    const lh = 'median  p95  rx_median  seen/expected';
    console.log(`viewers | liandong: ${lh} | janus: ${lh}`);
    const lc = (l) => `${ms(l.shown, median).padStart(6)}  ${ms(l.shown, p95).padStart(3)}  ${ms(l.received, median).padStart(9)}  ${`${l.n}/${l.expected}`.padStart(13)}`;
    for (const r of rows) console.log(`${String(r.n).padStart(7)} |           ${lc(r.liandong.lat)} |        ${lc(r.janus.lat)}`);
    for (const r of rows) {
      for (const s of servers) {
        if (r[s.name].lat.n === 0) failures.push(`${s.name} at ${r.n} viewer(s): no page saw a flash`);
      }
    }
  }
} catch (e) {
  if (!failures.length) failures.push(e.stack || e.message); // else it is one of them, already told
} finally {
  stopping = true;
  if (browser) await browser.close().catch(() => {});
  stat.close();
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => Promise.race([p.exited, sleep(15000).then(() => p.kill('SIGKILL'))])));
  rmSync(dir, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`bench/media: FAILED\n${failures.join('\n')}`);
  process.exit(1);
}
