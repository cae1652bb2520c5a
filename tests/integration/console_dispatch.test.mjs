// Two dispatchers in two browser contexts (own sessions) on the real console
// and server: a report posted through a gateway appears in both queues and on
// both maps; one assigns a unit with one click, the other sees it; the
// other's edit, started on the older version, shows the conflict instead of
// overwriting or failing silently; a note by one reaches the other. No request
// of either page leaves loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, seededServer, session, intake, positions, openConsole, shot, offLoopback, WAIT } from './browser.mjs';
import { report } from './harness.mjs';

test('two dispatchers: gateway report in both queues and maps, assignment seen by both, stale edit shows the conflict', async () => {
  const srv = await seededServer({
    users: [['d119a', 'dispatcher', '119'], ['d119b', 'dispatcher', '119'], ['sup', 'supervisor']],
  });
  const browser = await launch();
  try {
    const sup = await session(srv, 'sup');
    let r = await sup('POST', '/api/v1/units', { units: [
      { id: 'TH-FE-1', agency: '119', kind: 'fire_engine', station: '天河消防站' },
      { id: 'TH-FE-2', agency: '119', kind: 'fire_engine', station: '天河消防站' },
      { id: 'YX-AMB-1', agency: '120', kind: 'ambulance', station: '越秀急救站' },
    ] });
    assert.equal(r.status, 200, r.text);
    r = await positions(srv, [['TH-FE-1', 113.3300, 23.1400], ['TH-FE-2', 113.3600, 23.1500], ['YX-AMB-1', 113.2700, 23.1300]]);
    assert.equal(r.status, 200, r.text);

    const a = await openConsole(browser, srv, { user: 'd119a' });
    const b = await openConsole(browser, srv, { user: 'd119b' });
    // Both maps have Guangzhou's districts drawn before anything else.
    for (const c of [a, b]) await c.page.locator('#map path.district').first().waitFor({ timeout: WAIT });

    // A report through the 119 gateway: both queues and both maps show it.
    const posted = Date.now();
    r = await intake(srv, report('GW-119-1', { title: '天河路居民楼火灾', priority: 1 }));
    assert.equal(r.status, 201, r.text);
    const inc = r.json.incident;
    const shown = await Promise.all([a, b].map(async (c) => {
      await c.page.locator(`#queue tr[data-id="${inc.id}"]`).waitFor({ timeout: WAIT });
      await c.page.locator(`#map path.inc-${inc.id}`).waitFor({ timeout: WAIT });
      return Date.now() - posted;
    }));
    console.log(`# gateway report acknowledged -> in both queues and on both maps: ${Math.max(...shown)} ms`);
    for (const c of [a, b]) {
      const row = c.page.locator(`#queue tr[data-id="${inc.id}"]`);
      assert.equal(await row.getAttribute('data-line'), '119');
      assert.match(await row.textContent(), /天河路居民楼火灾/);
      assert.equal(await c.page.locator(`#map path.inc-${inc.id}`).getAttribute('data-line'), '119');
      // The visible cue for a new incident.
      assert.equal(await c.page.locator('#cue').getAttribute('data-kind'), 'new');
      assert.match(await c.page.locator('#cue').textContent(), new RegExp(`#${inc.id}`));
    }

    // B opens it from the map and starts editing the description (version 1).
    await b.page.locator(`#map path.inc-${inc.id}`).click();
    await b.page.locator(`#detail-body[data-id="${inc.id}"]`).waitFor({ timeout: WAIT });
    await b.page.click('#edit-description');
    await b.page.fill('#detail-edit-text', '六楼厨房起火，已疏散');
    // A opens it from the queue, sees B there, and assigns the recommended engine in one click.
    await a.page.click(`#queue tr[data-id="${inc.id}"]`);
    await a.page.locator('#detail-presence', { hasText: 'd119b' }).waitFor({ timeout: WAIT });
    await a.page.locator('#detail-recs button[data-assign="TH-FE-1"]').click();
    await a.page.locator('#detail-units li[data-unit="TH-FE-1"]').waitFor({ timeout: WAIT });
    assert.equal(await a.page.locator('#detail-body').getAttribute('data-status'), 'dispatched');
    // B sees the assignment live: its detail, its queue row.
    await b.page.locator('#detail-units li[data-unit="TH-FE-1"]').waitFor({ timeout: WAIT });
    await b.page.locator(`#queue tr[data-id="${inc.id}"][data-status="dispatched"]`).waitFor({ timeout: WAIT });
    await b.page.locator('#detail-newer').waitFor({ timeout: WAIT }); // told while still editing
    await shot(a.page, 'desk-dispatcher-a');

    // B saves on top of version 1: the server refuses (412) and B sees A's change.
    await b.page.click('#detail-save');
    const box = b.page.locator('#detail-conflict');
    await box.waitFor({ timeout: WAIT });
    const text = await box.textContent();
    assert.match(text, /d119a/, 'names who changed it');
    assert.match(text, /TH-FE-1/, 'shows the assignment');
    assert.match(text, /已派警/, 'shows the new status');
    assert.equal(await box.getAttribute('data-version'), '2');
    // Nothing of B's was written; B's text is kept to decide again.
    const now = (await sup('GET', `/api/v1/incidents/${inc.id}`)).json;
    assert.equal(now.description, '六楼厨房起火');
    assert.equal(now.version, 2);
    assert.equal(await b.page.inputValue('#detail-edit-text'), '六楼厨房起火，已疏散');
    await shot(b.page, 'desk-stale-edit-conflict');
    // A starts a note (N) while B saves again, now on the current version: it goes
    // through, A's panel redraws with it, and A keeps the note half-typed and the caret.
    await a.page.keyboard.press('n');
    await a.page.keyboard.type('燃气阀门已关闭');
    await b.page.click('#detail-save');
    await a.page.locator('#detail-description', { hasText: '已疏散' }).waitFor({ timeout: WAIT });
    assert.equal((await sup('GET', `/api/v1/incidents/${inc.id}`)).json.description, '六楼厨房起火，已疏散');
    assert.equal(await a.page.evaluate(() => document.activeElement.id), 'note-text');
    await a.page.keyboard.type('，可以进入');
    assert.equal(await a.page.inputValue('#note-text'), '燃气阀门已关闭，可以进入');
    await a.page.click('#note-add');
    // B sees the note, with who wrote it; the incident's version is unchanged by it.
    const noted = b.page.locator('#detail-notes li', { hasText: '燃气阀门已关闭，可以进入' });
    await noted.waitFor({ timeout: WAIT });
    assert.match(await noted.textContent(), /user:d119a/);
    await a.page.locator('#detail-notes li', { hasText: '燃气阀门已关闭，可以进入' }).waitFor({ timeout: WAIT });
    await a.page.waitForFunction(() => document.querySelector('#note-text').value === '', null, { timeout: WAIT });
    assert.equal((await sup('GET', `/api/v1/incidents/${inc.id}`)).json.version, 3);

    // Every request either page made stayed on this machine.
    for (const c of [a, b]) {
      assert.ok(c.requests.length > 5);
      assert.deepEqual(offLoopback(c.requests), []);
      assert.deepEqual(c.errors, []);
    }
    assert.deepEqual(a.failed, []);
    assert.deepEqual(b.failed, [`412 PATCH /api/v1/incidents/${inc.id}`], 'the stale save, and nothing else, was refused');
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});
