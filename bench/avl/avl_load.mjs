// bench/avl/avl_load.mjs - the client side of bench/avl (run by run.sh).
//
// 1. Defines UNITS units, opens CONSOLES WebSocket consoles (hello, snapshot).
// 2. CONCURRENCY posters send AVL batches of BATCH positions (random units of
//    the UNITS, random points in Guangzhou, the current time) for DURATION s:
//    positions accepted per second (durably: the 200 comes after the commit),
//    ack latency, and what the consoles received (coalesced "positions" frames).
// 3. Adds units up to REC_UNITS (five kinds, fresh positions), makes 50
//    incidents at random points, and times QUERIES recommendation requests
//    (GET /api/v1/incidents/{id}/recommendations?kind=...&limit=5) one at a time.
// Prints one JSON object on stdout.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'tests', 'package.json'));
const WebSocket = require('ws');

const env = (k, d) => Number(process.env[k] || d);
const BASE = process.env.BASE;
const UNITS = env('UNITS', 5000);
const CONSOLES = env('CONSOLES', 1000);
const BATCH = env('BATCH', 100);
const CONCURRENCY = env('CONCURRENCY', 8);
const DURATION = env('DURATION', 10);
const REC_UNITS = env('REC_UNITS', 10000);
const QUERIES = env('QUERIES', 2000);
const KINDS = ['fire_engine', 'ambulance', 'patrol', 'rescue_engine', 'traffic_police'];
const AGENCY = { fire_engine: '119', ambulance: '120', patrol: '110', rescue_engine: '119', traffic_police: '122' };
// Guangzhou's urban districts, roughly.
const BOX = [113.15, 22.95, 113.55, 23.35];

let seed = 42;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
const point = () => [BOX[0] + rnd() * (BOX[2] - BOX[0]), BOX[1] + rnd() * (BOX[3] - BOX[1])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(method, p, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const req = http.request(BASE + p, {
      method, agent,
      headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null, text });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const pct = (v, p) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.max(0, Math.ceil(p / 100 * s.length) - 1)] : 0; };

async function defineUnits(from, to, kindOf) {
  for (let i = from; i < to; i += 1000) {
    const units = [];
    for (let k = i; k < Math.min(to, i + 1000); k++) {
      const kind = kindOf(k);
      units.push({ id: `U${String(k).padStart(5, '0')}`, agency: AGENCY[kind], kind });
    }
    const r = await request('POST', '/api/v1/units', { units });
    if (r.status !== 200) throw new Error(`defining units: ${r.status} ${r.text}`);
  }
}

async function postPositions(from, to) {
  for (let i = from; i < to; i += 1000) {
    const positions = [];
    const at = new Date().toISOString();
    for (let k = i; k < Math.min(to, i + 1000); k++) {
      const [lon, lat] = point();
      positions.push({ unit: `U${String(k).padStart(5, '0')}`, lon, lat, at });
    }
    const r = await request('POST', '/api/v1/units/positions', { positions });
    if (r.status !== 200) throw new Error(`positions: ${r.status} ${r.text}`);
  }
}

async function openConsoles() {
  const port = new URL(BASE).port;
  const stats = { frames: 0, unitsSeen: 0, resyncs: 0, closed: 0 };
  const consoles = [];
  for (let i = 0; i < CONSOLES; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(CONSOLES, i + 50); k++) {
      batch.push(new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'liandong.v1');
        ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', last_seq: 0 })));
        ws.on('error', reject);
        ws.on('close', () => { stats.closed++; });
        ws.on('message', (data) => {
          const s = data.toString();
          if (s.startsWith('{"type":"snapshot"')) { resolve(ws); return; }
          if (s.startsWith('{"type":"positions"')) {
            stats.frames++;
            stats.unitsSeen += JSON.parse(s).units.length;
          } else if (s.startsWith('{"type":"resync"')) stats.resyncs++;
        });
      }));
    }
    consoles.push(...await Promise.all(batch));
  }
  return { consoles, stats };
}

async function main() {
  await defineUnits(0, UNITS, (k) => KINDS[k % KINDS.length]);
  await postPositions(0, UNITS);
  const { consoles, stats } = await openConsoles();
  await new Promise((r) => setTimeout(r, 1500));
  stats.frames = 0;
  stats.unitsSeen = 0;

  // AVL load.
  const lat = [];
  let accepted = 0, applied = 0, posts = 0, errors = 0;
  const t0 = Date.now(), end = t0 + DURATION * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < end) {
      const positions = [];
      const at = new Date().toISOString();
      const used = new Set();
      while (positions.length < BATCH) {
        const k = Math.floor(rnd() * UNITS);
        if (used.has(k)) continue;
        used.add(k);
        const [lon, la] = point();
        positions.push({ unit: `U${String(k).padStart(5, '0')}`, lon, lat: la, at });
      }
      const s = process.hrtime.bigint();
      const r = await request('POST', '/api/v1/units/positions', { positions });
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      posts++;
      if (r.status === 200) { accepted += r.json.accepted; applied += r.json.applied; } else errors++;
    }
  }));
  const secs = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2500)); // the last coalesced frames
  const consolesOut = {
    position_frames_per_console: stats.frames / CONSOLES,
    unit_positions_per_console_per_s: stats.unitsSeen / CONSOLES / secs,
    resyncs: stats.resyncs, closed: stats.closed,
  };
  for (const ws of consoles) ws.terminate();

  // Recommendations among REC_UNITS units.
  if (REC_UNITS > UNITS) {
    await defineUnits(UNITS, REC_UNITS, (k) => KINDS[k % KINDS.length]);
  }
  await postPositions(0, REC_UNITS); // fresh positions for all
  const incidents = [];
  for (let i = 0; i < 50; i++) {
    const [lon, la] = point();
    const r = await request('POST', '/api/v1/incidents', { line: '119', category: 'accident', priority: 2, title: `bench ${i}`, lon, lat: la });
    if (r.status !== 201) throw new Error(`incident: ${r.status} ${r.text}`);
    incidents.push(r.json.incident.id);
  }
  const rl = [];
  let found = 0;
  for (let q = 0; q < QUERIES; q++) {
    const id = incidents[q % incidents.length];
    const s = process.hrtime.bigint();
    const r = await request('GET', `/api/v1/incidents/${id}/recommendations?kind=${KINDS[q % KINDS.length]}&limit=5`);
    rl.push(Number(process.hrtime.bigint() - s) / 1e6);
    if (r.status !== 200) throw new Error(`recommendations: ${r.status} ${r.text}`);
    found += r.json.units.length;
  }
  agent.destroy();
  console.log(JSON.stringify({
    units: UNITS, consoles: CONSOLES, batch: BATCH, concurrency: CONCURRENCY, seconds: secs,
    posts, errors, accepted_per_s: accepted / secs, applied_per_s: applied / secs,
    ack_ms_p50: pct(lat, 50), ack_ms_p99: pct(lat, 99), ...consolesOut,
    rec_units: Math.max(REC_UNITS, UNITS), rec_queries: QUERIES, rec_ms_p50: pct(rl, 50),
    rec_ms_p99: pct(rl, 99), rec_found_avg: found / QUERIES,
  }));
}

main().catch((e) => { console.error(`avl_load: ${e.stack || e}`); process.exit(1); });
