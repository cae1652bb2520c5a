// Browser-test helpers: Debian's chromium driven by playwright-core, a centre
// seeded as a city would have it (Guangzhou's districts, users per role,
// gateway keys, units with AVL fixes), consoles that sign in through the
// page's own form, every request a page makes recorded, screenshots saved.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tempDir, addGateway } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const BIN = process.env.LIANDONG_BIN;
export const CHROMIUM = process.env.LIANDONG_CHROMIUM || '/usr/bin/chromium';
export const PLANS = path.join(ROOT, 'server', 'plans.conf');
export const GUANGZHOU = path.join(ROOT, 'gis', 'data', 'guangzhou.geojson');
export const SHOTS = process.env.LIANDONG_SCREENSHOTS || tempDir('shots');
// The ASan build is several times slower: every wait is generous, none is an assertion.
export const WAIT = process.env.LIANDONG_SANITIZED === 'true' || process.env.LIANDONG_SANITIZED === '1' ? 60000 : 30000;
export const PASSWORD = 'correct horse battery 7';

// Without the built console every browser test would wait in vain: say so at once.
const INDEX = path.join(process.env.LIANDONG_CONSOLE || '', 'index.html');
if (!existsSync(INDEX)) {
  throw new Error(`${INDEX} is missing: build the console first (scripts/setup.sh, or npm ci && npm run build in web-console/)`);
}

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Sound cues without a click first; no GPU on the test machines.
    args: ['--autoplay-policy=no-user-gesture-required', '--disable-gpu', '--no-sandbox'],
  });
}

export function addUser(dataDir, name, role, agency) {
  execFileSync(BIN, ['user', 'add', name, '--role', role, ...(agency ? ['--agency', agency] : []), '--data', dataDir],
    { env: { ...process.env, LIANDONG_PASSWORD: PASSWORD } });
}

// A centre as the demo has it: districts, users, one gateway key per line and
// one for AVL, the linkage plans; deadlines far away unless asked for.
export async function seededServer({ users = [], gateways = ['json'], args = [], deadlines = false, media = false } = {}) {
  const dir = tempDir('console');
  if (!existsSync(GUANGZHOU)) throw new Error(`${GUANGZHOU} is missing (scripts/setup.sh makes it)`);
  execFileSync(BIN, ['import', 'jurisdictions', GUANGZHOU, '--crs', 'gcj02', '--data', dir]);
  for (const [name, role, agency] of users) addUser(dir, name, role, agency);
  const keys = {};
  for (const a of gateways) keys[a] = addGateway(dir, `gw-${a}`, a).token;
  keys.avl = addGateway(dir, 'gw-avl', 'avl', ['--rate', '1000', '--burst', '1000']).token;
  const srv = await startServer({ dataDir: dir, auth: true, users: users.length > 0, deadlines, media,
    args: ['--set', `dispatch.plans=${PLANS}`, ...args] });
  srv.keys = keys;
  return srv;
}

// Signed-in REST for the test's own set-up (a supervisor defines units).
export async function session(srv, name) {
  const r = await srv.post('/api/v1/session', { name, password: PASSWORD });
  if (r.status !== 200) throw new Error(`sign-in ${name}: ${r.status} ${r.text}`);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  return (method, p, body, headers = {}) => srv.request(method, p, { body, headers: { cookie, ...headers } });
}

export function intake(srv, body, adapter = 'json') {
  return srv.post(`/api/v1/intake/${adapter}`, body, { authorization: `Bearer ${srv.keys[adapter]}` });
}

export function positions(srv, list) {
  const at = new Date().toISOString();
  return srv.post('/api/v1/units/positions', { positions: list.map(([unit, lon, lat]) => ({ unit, lon, lat, at })) },
    { authorization: `Bearer ${srv.keys.avl}` });
}

// A console in its own browser context (its own cookies), signed in through
// the page's form when a user is given. Every request the page makes is kept.
export async function openConsole(browser, srv, { user = null, lang = 'zh-CN', viewport = { width: 1600, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport, locale: lang });
  const page = await context.newPage();
  const requests = [];
  const errors = []; // uncaught exceptions in the page
  const failed = []; // answers >= 400 (but the 401 of GET /api/v1/session before sign-in)
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(String(e)));
  // Answers >= 400 the page did not expect: before sign-in, GET /api/v1/session is 401 by design.
  page.on('response', (r) => {
    if (r.status() >= 400 && !(r.status() === 401 && new URL(r.url()).pathname === '/api/v1/session')) {
      failed.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
    }
  });
  const sockets = [];
  page.on('websocket', (ws) => {
    const s = { url: ws.url(), frames: [], closed: false };
    sockets.push(s);
    ws.on('framereceived', (f) => { try { s.frames.push(JSON.parse(f.payload)); } catch { /* binary */ } });
    ws.on('close', () => { s.closed = true; });
  });
  await page.goto(srv.base + '/');
  if (user) {
    await page.locator('#sign-in-name').waitFor({ timeout: WAIT });
    await page.fill('#sign-in-name', user);
    await page.fill('#sign-in-password', PASSWORD);
    await page.click('#sign-in-form button[type=submit]');
  }
  await page.locator('#conn[data-state=live]').waitFor({ timeout: WAIT });
  return { context, page, requests, errors, failed, sockets };
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

// Every URL a page asked for is on this machine's loopback (or a data:/blob: URL).
export function offLoopback(requests) {
  return requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    const host = new URL(u).hostname;
    return !(host === '127.0.0.1' || host === 'localhost' || host === '[::1]');
  });
}

// What the conference video (#conf-video) shows: playback time, decoded frames, size, and the
// picture read back through a canvas (mean of each channel, brightest channel value).
export const videoState = (page) => page.evaluate(() => {
  const v = document.getElementById('conf-video');
  const q = v.getVideoPlaybackQuality();
  const out = { t: v.currentTime, frames: q.totalVideoFrames, w: v.videoWidth, h: v.videoHeight, ready: v.readyState };
  if (v.videoWidth > 0) {
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let r = 0, gr = 0, b = 0, max = 0;
    for (let i = 0; i < d.length; i += 4) {
      r += d[i]; gr += d[i + 1]; b += d[i + 2];
      max = Math.max(max, d[i], d[i + 1], d[i + 2]);
    }
    const n = d.length / 4;
    Object.assign(out, { r: r / n, g: gr / n, b: b / n, max });
  }
  return out;
});

// The picture is the local source's at 640x360: a white ball on black (videotestsrc
// pattern=ball), grey throughout, not blank and not green (a broken decode's colour cast).
export function assertSourcePicture(s) {
  assert.deepEqual([s.w, s.h], [640, 360]);
  assert.ok(s.max > 200, `the ball is there: ${JSON.stringify(s)}`);
  assert.ok(s.g < 80 && Math.abs(s.r - s.g) < 12 && Math.abs(s.b - s.g) < 12,
    `black and white, not blank or green: ${JSON.stringify(s)}`);
}
