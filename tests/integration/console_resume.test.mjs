// The network is cut under a signed-in console and restored: the page says it
// is offline, and once back it resumes from its last seq on a new WebSocket,
// without a reload, with exactly the events it missed (the journal's, in
// order) and none twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, seededServer, session, intake, openConsole, shot, offLoopback, WAIT } from './browser.mjs';
import { report } from './harness.mjs';

const seqOf = async (page) => Number((await page.textContent('#seq')).replace(/\D/g, ''));
const eventSeqs = (s) => s.frames.filter((f) => f.type === 'event').map((f) => f.seq);

test('WebSocket cut and restored: the console catches up with exactly the events it missed, none repeated, no reload', async () => {
  const srv = await seededServer({ users: [['sup', 'supervisor']] });
  const browser = await launch();
  try {
    const sup = await session(srv, 'sup');
    const c = await openConsole(browser, srv, { user: 'sup' });
    const { page, context } = c;
    const before = [];
    for (let i = 1; i <= 3; i++) {
      before.push((await intake(srv, report(`CUT-A-${i}`, { lon: 113.30 + i * 0.01, title: `断网前警情 ${i}` }))).json.incident);
    }
    await page.locator('#queue tbody tr').nth(2).waitFor({ timeout: WAIT });
    await page.evaluate(() => { window.notReloaded = true; });
    const lastSeq = (await sup('GET', '/api/v1/journal?after=0&limit=1000')).json.last_seq;
    await page.waitForFunction((s) => document.querySelector('#seq').textContent === `seq ${s}`, lastSeq, { timeout: WAIT });
    const cutAt = await seqOf(page);
    assert.equal(cutAt, lastSeq);

    // Cut: the browser goes offline; the page says so and its socket closes.
    await context.setOffline(true);
    await page.locator('#conn[data-state=offline]').waitFor({ timeout: WAIT });
    await page.waitForFunction(() => true); // let the close settle
    const first = c.sockets[0];
    await new Promise((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => (first.closed ? resolve() : Date.now() - t0 > WAIT ? reject(new Error('socket not closed')) : setTimeout(poll, 50));
      poll();
    });

    // Meanwhile the centre goes on: two new reports, a status change, a unit.
    const during = [];
    during.push((await intake(srv, report('CUT-B-1', { line: '120', category: 'public_health', type: 'medical.cardiac', title: '断网期间 胸痛', lon: 113.26, lat: 23.12 }))).json.incident);
    during.push((await intake(srv, report('CUT-B-2', { line: '110', category: 'social_security', type: 'theft', priority: 3, title: '断网期间 盗窃', lon: 113.28, lat: 23.11 }))).json.incident);
    let r = await sup('PATCH', `/api/v1/incidents/${before[0].id}`, { status: 'acknowledged' }, { 'if-match': `"${before[0].version}"` });
    assert.equal(r.status, 200, r.text);
    r = await sup('POST', '/api/v1/units', { units: [{ id: 'HZ-AMB-1', agency: '120', kind: 'ambulance' }] });
    assert.equal(r.status, 200, r.text);
    const missed = (await sup('GET', `/api/v1/journal?after=${cutAt}&limit=1000`)).json.events.map((e) => e.seq);
    assert.ok(missed.length >= 4, JSON.stringify(missed));
    // Offline, the page shows nothing new and does not pretend to be live.
    assert.equal(await page.locator(`#queue tr[data-id="${during[0].id}"]`).count(), 0);
    assert.equal(await page.getAttribute('#conn', 'data-state'), 'offline');
    assert.match(await page.textContent('#conn'), /网络离线 · 数据停在 /, 'says since when its data is old');
    await shot(page, 'desk-offline');

    // Restore: a new socket resumes from the last seq; the page is live again.
    await context.setOffline(false);
    await page.locator('#conn[data-state=live]').waitFor({ timeout: WAIT });
    for (const inc of during) await page.locator(`#queue tr[data-id="${inc.id}"]`).waitFor({ timeout: WAIT });
    await page.locator(`#queue tr[data-id="${before[0].id}"][data-status="acknowledged"]`).waitFor({ timeout: WAIT });
    await page.waitForFunction((s) => document.querySelector('#seq').textContent === `seq ${s}`, missed.at(-1), { timeout: WAIT });
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'no reload');

    const resumed = c.sockets.filter((s) => s !== first && s.frames.some((f) => f.type === 'welcome'));
    assert.equal(resumed.length, 1, 'one new socket after the cut');
    const hello = resumed[0].frames.find((f) => f.type === 'welcome');
    assert.equal(hello.mode, 'resume', 'resumed from its seq, not a fresh snapshot');
    assert.equal(resumed[0].frames.filter((f) => f.type === 'snapshot').length, 0);
    assert.deepEqual(eventSeqs(resumed[0]), missed, 'exactly the missed events, in order');
    const all = c.sockets.flatMap(eventSeqs);
    assert.equal(new Set(all).size, all.length, 'no event sent twice');
    assert.ok(all.every((s, i) => i === 0 || s > all[i - 1]), 'in seq order across the cut');

    // The activity feed shows each missed event once.
    await page.keyboard.press('3');
    await page.locator('#feed li').first().waitFor({ timeout: WAIT });
    const feed = (await page.$$eval('#feed li', (lis) => lis.map((li) => Number(li.dataset.seq)))).reverse();
    assert.deepEqual(feed.filter((s) => s > cutAt), missed);
    assert.equal(new Set(feed).size, feed.length);
    await shot(page, 'alerts-feed-after-resume');

    assert.deepEqual(offLoopback(c.requests), []);
    assert.deepEqual(c.errors, []);
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});
