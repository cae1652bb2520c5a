// bench/media/viewers.mjs - the bridge's cost per WebRTC viewer: one source
// (liandong-rtsp-source, SIZE at FPS), a conference on it, then 1..20 headless
// Chromium pages watching it (web-console/public/conference-test.html, served from dist/). For each step
// it waits until every page decodes, then samples the liandong process for
// SAMPLE seconds: CPU (utime+stime from /proc/PID/stat) and RSS. Prints the
// figures with the zero-viewer baseline (ingest, recording and HLS only) and
// the increment per viewer. Run by run.sh; see README.md.
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.ROOT, 'tests', 'package.json'));
const { chromium } = require('playwright-core');

const BUILD = process.env.BUILD;
const ROOT = process.env.ROOT;
const STEPS = (process.env.STEPS || '1,2,5,10,20').split(',').map(Number);
const SAMPLE = Number(process.env.SAMPLE || 10);
const SIZE = process.env.SIZE || '1280x720';
const FPS = process.env.FPS || '30';
const HZ = 100; // USER_HZ on Linux

function listening(proc) {
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stderr.on('data', (d) => {
      buf += d.toString();
      const m = buf.match(/msg="listening".* port=(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (c) => reject(new Error(`exited ${c}: ${buf}`)));
  });
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
  await new Promise((r) => setTimeout(r, SAMPLE * 1000));
  const b = procStat(pid);
  const secs = (Date.now() - t0) / 1000;
  return { cpu: ((b.ticks - a.ticks) / HZ / secs) * 100, rss: b.rss };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-media-'));
const src = spawn(path.join(BUILD, 'media/liandong-rtsp-source'), ['--size', SIZE, '--fps', FPS], { stdio: ['ignore', 'ignore', 'pipe'] });
const srcPort = await listening(src);
const srv = spawn(path.join(BUILD, 'server/liandong'), ['serve', '--port', '0', '--data', path.join(dir, 'data'),
  '--console', path.join(ROOT, 'web-console', 'dist'), '--set', 'console.auth=open', '--set', 'intake.auth=open',
  '--set', 'media.max_viewers=64'], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await listening(srv);
const base = `http://127.0.0.1:${port}`;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
});
try {
  const r = await fetch(`${base}/api/v1/conferences`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', sources: [`rtsp://127.0.0.1:${srcPort}/conf`] }),
  });
  const id = (await r.json()).id;
  for (let i = 0; i < 120; i++) {
    const c = await (await fetch(`${base}/api/v1/conferences/${id}`)).json();
    if (c.sources[0].state === 'live') break;
    await new Promise((res) => setTimeout(res, 500));
  }
  const zero = await sample(srv.pid);
  console.log(`source ${SIZE}@${FPS} H.264 + Opus; ${SAMPLE} s samples of the liandong process`);
  console.log('viewers  cpu%   rss_MiB  cpu%/viewer  rss_MiB/viewer  frames_decoded_min');
  console.log(`${'0'.padStart(7)}  ${zero.cpu.toFixed(1).padStart(5)}  ${(zero.rss / 1048576).toFixed(1).padStart(7)}`);
  const pages = [];
  for (const n of STEPS) {
    while (pages.length < n) {
      const p = await browser.newPage();
      await p.goto(`${base}/conference-test.html?conference=${id}`);
      pages.push(p);
    }
    for (const p of pages) {
      await p.waitForFunction(() => window.conference && window.conference.cc.state === 'connected', null, { timeout: 120000 });
    }
    const s = await sample(srv.pid);
    let minFrames = Infinity;
    for (const p of pages) {
      const st = await p.evaluate(() => window.conference.stats());
      minFrames = Math.min(minFrames, st.video ? st.video.framesDecoded : 0);
    }
    const perCpu = (s.cpu - zero.cpu) / n, perRss = (s.rss - zero.rss) / n / 1048576;
    console.log(`${String(n).padStart(7)}  ${s.cpu.toFixed(1).padStart(5)}  ${(s.rss / 1048576).toFixed(1).padStart(7)}  ` +
      `${perCpu.toFixed(2).padStart(11)}  ${perRss.toFixed(2).padStart(14)}  ${String(minFrames).padStart(18)}`);
  }
} finally {
  await browser.close();
  srv.kill('SIGTERM');
  src.kill('SIGTERM');
  await new Promise((r) => srv.on('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
