// Shared harness for the black-box tests: start the real liandong binary on
// loopback with a fresh data folder, talk HTTP and WebSocket to it as
// clients do, and read its /metrics.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

const BIN = process.env.LIANDONG_BIN;
const CONSOLE = process.env.LIANDONG_CONSOLE || '';
if (!BIN) throw new Error('LIANDONG_BIN is not set (run through ctest)');

export function tempDir(tag) {
  return mkdtempSync(path.join(os.tmpdir(), `liandong-${tag}-`));
}

// Start `liandong serve` on a free port; resolves once it logs "listening".
// Intake needs gateway keys by default; tests that are not about keys run with
// intake.auth=open unless they pass auth: true.
// Tests that count events set deadlines out of their way (an incident left new
// would otherwise escalate, an event of its own, after 30 s on a slow machine);
// the dispatch tests pass deadlines: true and set their own.
const FAR_DEADLINES = ['1', '2', '3', '4'].flatMap((p) => ['--set', `dispatch.ack_p${p}=86400`]);

// The media bridge (GStreamer) runs only in the tests that pass media: true.
export function startServer({ dataDir, args = [], command = 'serve', auth = false, deadlines = false, users = false, media = false } = {}) {
  const dir = dataDir || tempDir('it');
  const authArgs = [...(auth ? [] : ['--set', 'intake.auth=open']), ...(users ? [] : ['--set', 'console.auth=open']),
    ...(media ? [] : ['--set', 'media.enabled=0'])];
  return spawnListening('server', BIN,
    [command, '--port', '0', '--data', dir, '--console', CONSOLE, ...authArgs,
      ...(deadlines ? [] : FAR_DEADLINES), ...args])
    .then(({ proc, port, logs }) => new Server(proc, port, dir, logs));
}

// Spawn a liandong program and resolve {proc, port, logs} once it logs
// msg="listening" ... port=N; reject (with its log) if it exits first. onLine
// sees every stderr line as it is read.
export function spawnListening(what, bin, args, { onLine = null } = {}) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs = [];
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n` + logs.join('\n'))), 10000);
    proc.stderr.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(line);
        if (onLine) onLine(line, proc);
        const m = line.match(/msg="listening".* port=(\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve({ proc, port: Number(m[1]), logs });
        }
      }
    });
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? sig}) before listening:\n` + logs.join('\n')));
    });
  });
}

export class Server {
  constructor(proc, port, dataDir, logs) {
    this.proc = proc;
    this.port = port;
    this.dataDir = dataDir;
    this.logs = logs;
    this.base = `http://127.0.0.1:${port}`;
    this.exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  }

  async request(method, p, { body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      if (!init.headers['content-type']) init.headers['content-type'] = 'application/json';
    }
    const res = await fetch(this.base + p, init);
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
  }

  post(p, body, headers) { return this.request('POST', p, { body, headers }); }
  get(p) { return this.request('GET', p); }

  async metrics() {
    const { text } = await this.get('/metrics');
    const out = {};
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const sp = line.lastIndexOf(' ');
      out[line.slice(0, sp)] = Number(line.slice(sp + 1));
    }
    return out;
  }

  rssBytes() {
    const s = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    return Number(s.match(/VmRSS:\s+(\d+) kB/)[1]) * 1024;
  }

  async stop(signal = 'SIGTERM') {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }

  cleanup() { rmSync(this.dataDir, { recursive: true, force: true }); }
}

// `liandong gateway add NAME --adapter A ...` on a data folder: {name, token, hmac_secret}.
export function addGateway(dataDir, name, adapter, extra = []) {
  const out = execFileSync(BIN, ['gateway', 'add', name, '--adapter', adapter, '--data', dataDir, ...extra]);
  return JSON.parse(out.toString());
}

// A report in the generic JSON adapter's format.
export function report(ref, extra = {}) {
  return {
    line: '119', ext_ref: ref, category: 'accident', type: 'fire.building', priority: 1,
    title: '居民楼火灾', description: '六楼厨房起火', address: '天河区天河路385号',
    lon: 113.3245, lat: 23.1372, ...extra,
  };
}

// Send raw bytes over TCP and collect the whole answer (for requests fetch cannot make).
export function rawHttp(port, text, { waitMs = 2000 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d.toString(); });
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.write(text);
    setTimeout(() => { s.destroy(); resolve(out); }, waitMs);
  });
}

// POST a body in two halves, 300 ms apart, on a raw connection: what arrived
// before the second half (early), everything read (out), and the socket error
// seen, if any (a reset while the body is still being sent shows up here).
export function postInHalves(port, path, headers, bodyLen) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let early = null;
    let error = null;
    const done = () => resolve({ early, out, error });
    s.on('data', (d) => { out += d.toString(); });
    s.on('error', (e) => { error = e.code || String(e); });
    s.on('close', done);
    const half = Math.floor(bodyLen / 2);
    s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${bodyLen}\r\n\r\n`);
    s.write('x'.repeat(half));
    setTimeout(() => {
      early = out;
      s.write('x'.repeat(bodyLen - half));
      setTimeout(() => { s.destroy(); }, 3000);
    }, 300);
  });
}

// Poll fn (250 ms apart) until it returns {ok: true, ...}; that object, or an
// error quoting what was last seen after ms.
export async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last && last.ok) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

// A console on /ws: collects every frame; waitFor() resolves on a matching one.
export class Console {
  constructor(port) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, 'liandong.v1');
    this.frames = [];
    this.waiters = [];
    this.closed = new Promise((r) => this.ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    this.ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => !(w.pred(f) && (w.resolve(f), true)));
    });
    this.opened = new Promise((res, rej) => { this.ws.on('open', res); this.ws.on('error', rej); });
  }

  static async open(port, lastSeq) {
    const c = new Console(port);
    await c.opened;
    if (lastSeq !== undefined) c.send({ type: 'hello', last_seq: lastSeq });
    return c;
  }

  send(obj) { this.ws.send(JSON.stringify(obj)); }

  waitFor(pred, ms = 5000, what = 'frame') {
    const hit = this.frames.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-3))}`)), ms);
      this.waiters.push({ pred, resolve: (f) => { clearTimeout(t); resolve(f); } });
    });
  }

  events() { return this.frames.filter((f) => f.type === 'event'); }
  close() { this.ws.close(); return this.closed; }
}
