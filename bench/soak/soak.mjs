// bench/soak/soak.mjs - run by run.sh: CONSOLES consoles on a demo server for
// DURATION seconds. Each console checks that its events arrive in seq order
// with no gap and no repeat; every SAMPLE seconds the server's RSS is read from
// /proc. At the end every console must have reached the server's last seq.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'tests', 'package.json'));
const WebSocket = require('ws');
const PORT = Number(process.env.PORT), PID = Number(process.env.SERVER_PID);
const CONSOLES = Number(process.env.CONSOLES || 1000), DURATION = Number(process.env.DURATION || 600);
const SAMPLE = Number(process.env.SAMPLE || 10);
const rss = () => Number(readFileSync(`/proc/${PID}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const consoles = [];
let gaps = 0, repeats = 0, resyncs = 0, closed = 0, events = 0, positions = 0;
function open() {
  return new Promise((resolve, reject) => {
    const c = { last: 0, ws: new WebSocket(`ws://127.0.0.1:${PORT}/ws`, 'liandong.v1') };
    c.ws.on('open', () => c.ws.send(JSON.stringify({ type: 'hello', last_seq: 0 })));
    c.ws.on('error', reject);
    c.ws.on('close', () => { closed++; });
    c.ws.on('message', (d) => {
      const s = d.toString();
      if (s.startsWith('{"type":"event"')) {
        const seq = JSON.parse(s).seq;
        if (seq === c.last + 1 || c.last === 0) c.last = seq;
        else if (seq <= c.last) repeats++;
        else { gaps++; c.last = seq; }
        events++;
      } else if (s.startsWith('{"type":"snapshot"')) {
        c.last = JSON.parse(s).seq;
        resolve(c);
      } else if (s.startsWith('{"type":"positions"')) positions++;
      else if (s.startsWith('{"type":"resync"')) resyncs++;
    });
  });
}
for (let i = 0; i < CONSOLES; i += 50) consoles.push(...await Promise.all(Array.from({ length: Math.min(50, CONSOLES - i) }, open)));
const samples = [];
const t0 = Date.now();
while (Date.now() - t0 < DURATION * 1000) {
  samples.push({ t: Math.round((Date.now() - t0) / 1000), rss: rss() });
  await sleep(SAMPLE * 1000);
}
samples.push({ t: Math.round((Date.now() - t0) / 1000), rss: rss() });
const health = await (await fetch(`http://127.0.0.1:${PORT}/healthz`)).json();
await sleep(2000);
const behind = consoles.filter((c) => c.last < health.seq).length;
for (const c of consoles) c.ws.terminate();
console.log(JSON.stringify({ consoles: CONSOLES, seconds: DURATION, server_seq: health.seq, events_received: events,
  position_frames: positions, gaps, repeats, resyncs, closed_early: closed - 0, behind, samples }));
