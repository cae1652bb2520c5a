// The console's views in a real browser against the real server: sign-in by
// role, the queue's filters and keyboard shortcuts, coordinates in WGS84,
// CGCS2000 Gauss-Krüger and GCJ-02, the unit board, an escalation alert
// (visible and audible), the statistics charts, the leadership view, English,
// the optional tile layer. Screenshots of the main views (zh-CN) are saved;
// no request of any page leaves this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, seededServer, session, intake, positions, openConsole, shot, offLoopback, WAIT } from './browser.mjs';
import { startServer, report } from './harness.mjs';

const PLACES = {
  tianhe: [113.3245, 23.1372, '440106'],
  yuexiu: [113.2668, 23.1291, '440104'],
  haizhu: [113.3172, 23.0837, '440105'],
  panyu: [113.3846, 22.9376, '440113'],
};
const rows = (page) => page.$$eval('#queue tbody tr', (trs) => trs.map((tr) => Number(tr.dataset.id)));

test('sign-in by role: a wrong password is refused; a dispatcher sees their agency and acts; a leader lands on the leadership view, read-only', async () => {
  const srv = await seededServer({ users: [['d120', 'dispatcher', '120'], ['lead', 'leader'], ['sup', 'supervisor']] });
  const browser = await launch();
  try {
    const ems = (await intake(srv, report('ROLE-120', { line: '120', category: 'public_health', type: 'medical.cardiac',
      priority: 2, title: '胸痛患者', lon: PLACES.yuexiu[0], lat: PLACES.yuexiu[1] }))).json.incident;
    const theft = (await intake(srv, report('ROLE-110', { line: '110', category: 'social_security', type: 'theft',
      priority: 4, title: '电动车被盗', lon: PLACES.haizhu[0], lat: PLACES.haizhu[1] }))).json.incident;
    const fire = (await intake(srv, report('ROLE-119', { title: '天河路居民楼火灾', priority: 1 }))).json.incident;
    assert.ok(fire.agencies.includes('120'), 'the building-fire plan tasks 120');

    // A wrong password: the form says so and the console stays closed.
    const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    const page = await context.newPage();
    const requests = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(srv.base + '/');
    await page.fill('#sign-in-name', 'd120');
    await page.fill('#sign-in-password', 'not the password');
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#sign-in-msg', { hasText: '用户名或密码错误' }).waitFor({ timeout: WAIT });
    assert.equal(await page.isHidden('#main'), true);
    await shot(page, 'sign-in');
    assert.deepEqual(offLoopback(requests), []);
    await context.close();

    // The 120 dispatcher: their own line's incident and the fire that tasks 120, not the theft.
    const d = await openConsole(browser, srv, { user: 'd120' });
    await d.page.locator(`#queue tr[data-id="${fire.id}"]`).waitFor({ timeout: WAIT });
    assert.deepEqual((await rows(d.page)).sort(), [ems.id, fire.id].sort());
    assert.equal(await d.page.locator(`#queue tr[data-id="${theft.id}"]`).count(), 0);
    assert.match(await d.page.textContent('#who-name'), /调度员 120/);
    const views = await d.page.$$eval('#views button:not([hidden])', (bs) => bs.map((b) => b.dataset.view));
    assert.deepEqual(views, ['desk', 'units', 'alerts', 'stats']);
    await d.page.click(`#queue tr[data-id="${ems.id}"]`);
    await d.page.locator('#detail-actions button[data-status="acknowledged"]').click();
    await d.page.locator(`#queue tr[data-id="${ems.id}"][data-status="acknowledged"]`).waitFor({ timeout: WAIT });
    // Only their agency's task can be acknowledged from here.
    await d.page.click(`#queue tr[data-id="${fire.id}"]`);
    await d.page.locator('#detail-tasks tr[data-agency="120"] button').waitFor({ timeout: WAIT });
    assert.equal(await d.page.locator('#detail-tasks tr[data-agency="119"] button').count(), 0);
    await d.page.locator('#detail-tasks tr[data-agency="120"] button').click();
    await d.page.locator('#detail-tasks tr[data-agency="120"][data-state="acknowledged"]').waitFor({ timeout: WAIT });

    // The leader: the leadership view first, every open incident, the major ones, no actions.
    const l = await openConsole(browser, srv, { user: 'lead' });
    await l.page.locator('#view-leader:not([hidden])').waitFor({ timeout: WAIT });
    await l.page.locator(`#leader-major li[data-id="${fire.id}"]`).waitFor({ timeout: WAIT });
    assert.equal(await l.page.textContent('#leader-tiles [data-key=open_total] .tile-n'), '3');
    assert.equal(await l.page.textContent('#leader-tiles [data-key=p1_total] .tile-n'), '1');
    assert.equal(await l.page.locator(`#leader-major li[data-id="${theft.id}"]`).count(), 0, 'a P4 theft is not major');
    assert.deepEqual((await l.page.$$eval('#leader-districts tr', (trs) => trs.map((tr) => tr.dataset.district))).sort(),
      ['天河区', '海珠区', '越秀区'].sort(), 'open incidents per district');
    await l.page.locator('#leader-map path.district').first().waitFor({ timeout: WAIT });
    await l.page.locator(`#leader-map path.inc-${fire.id}`).waitFor({ timeout: WAIT });
    assert.equal(await l.page.isVisible('#conference-mount'), true, 'the conference panel has its place');
    assert.deepEqual(await l.page.$$eval('#views button:not([hidden])', (bs) => bs.map((b) => b.dataset.view)),
      ['desk', 'alerts', 'stats', 'leader']);
    await shot(l.page, 'leader');
    await l.page.click(`#leader-major li[data-id="${fire.id}"] a`);
    await l.page.locator(`#detail-body[data-id="${fire.id}"]`).waitFor({ timeout: WAIT });
    assert.equal(await l.page.locator('#detail-actions button').count(), 0);
    assert.match(await l.page.textContent('#detail-actions'), /只读/);
    assert.equal(await l.page.locator('#detail-recs').count(), 0);

    for (const c of [d, l]) {
      assert.deepEqual(offLoopback(c.requests), []);
      assert.deepEqual(c.errors, []);
      assert.deepEqual(c.failed, []);
    }
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});

test('a supervisor shift: filters, keyboard shortcuts, three coordinate systems, unit board, escalation alert, statistics, English', async () => {
  const srv = await seededServer({ users: [['sup', 'supervisor']], deadlines: true,
    args: ['--set', 'dispatch.ack_p1=5', '--set', 'dispatch.ack_p2=86400', '--set', 'dispatch.ack_p3=86400', '--set', 'dispatch.ack_p4=86400'] });
  const browser = await launch();
  try {
    const sup = await session(srv, 'sup');
    let r = await sup('POST', '/api/v1/units', { units: [
      { id: 'TH-FE-1', agency: '119', kind: 'fire_engine' }, { id: 'TH-FE-2', agency: '119', kind: 'fire_engine' },
      { id: 'YX-AMB-1', agency: '120', kind: 'ambulance' }, { id: 'HZ-PT-1', agency: '110', kind: 'patrol' },
      { id: 'PY-TP-1', agency: '122', kind: 'traffic_police' }, { id: 'SPARE-1', agency: '119', kind: 'fire_engine' },
    ] });
    assert.equal(r.status, 200, r.text);
    r = await positions(srv, [['TH-FE-1', 113.330, 23.140], ['TH-FE-2', 113.360, 23.150], ['YX-AMB-1', 113.270, 23.130],
      ['HZ-PT-1', 113.320, 23.090], ['PY-TP-1', 113.380, 22.940]]);
    assert.equal(r.status, 200, r.text);
    const make = (ref, where, extra) => intake(srv, report(ref, { lon: PLACES[where][0], lat: PLACES[where][1], ...extra }))
      .then((x) => x.json.incident);
    const fire = await make('V-119', 'tianhe', { priority: 2, title: '天河路商铺火灾', description: '商铺二楼冒烟，有人员被困', address: '天河区天河路208号' });
    const ems = await make('V-120', 'yuexiu', { line: '120', category: 'public_health', type: 'medical.fall', priority: 3,
      title: '老人跌倒', description: '八旬老人家中跌倒，意识清醒', address: '越秀区中山五路219号' });
    const theft = await make('V-110', 'haizhu', { line: '110', category: 'social_security', type: 'theft', priority: 4,
      title: '入室盗窃', description: '住户报称家中财物被盗', address: '海珠区江南大道中180号' });
    const crash = await make('V-122', 'panyu', { line: '122', category: 'accident', type: 'traffic.collision', priority: 2,
      title: '两车追尾', description: '小客车追尾，一人受伤', address: '番禺区市桥街富华西路' });

    const c = await openConsole(browser, srv, { user: 'sup' });
    const { page } = c;
    await page.locator(`#queue tr[data-id="${crash.id}"]`).waitFor({ timeout: WAIT });
    // Most urgent first, then the oldest report.
    assert.deepEqual(await rows(page), [fire.id, crash.id, ems.id, theft.id]);

    // Filters: line, status, district.
    await page.selectOption('#filter-line', '120');
    assert.deepEqual(await rows(page), [ems.id]);
    await page.selectOption('#filter-line', '');
    await page.selectOption('#filter-district', PLACES.panyu[2]);
    assert.deepEqual(await rows(page), [crash.id]);
    await page.selectOption('#filter-district', '');

    // Keyboard: j/k move and open, s advances the status, a assigns the first recommendation.
    await page.locator('body').press('j');
    await page.locator(`#detail-body[data-id="${fire.id}"]`).waitFor({ timeout: WAIT });
    await page.keyboard.press('j');
    await page.locator(`#detail-body[data-id="${crash.id}"]`).waitFor({ timeout: WAIT });
    await page.keyboard.press('k');
    await page.locator(`#detail-body[data-id="${fire.id}"]`).waitFor({ timeout: WAIT });
    await page.keyboard.press('s');
    await page.locator(`#queue tr[data-id="${fire.id}"][data-status="acknowledged"]`).waitFor({ timeout: WAIT });
    await page.locator('#detail-recs tr[data-unit="TH-FE-1"]').waitFor({ timeout: WAIT });
    await page.keyboard.press('a');
    await page.locator('#detail-units li[data-unit="TH-FE-1"]').waitFor({ timeout: WAIT });
    await page.locator(`#queue tr[data-id="${fire.id}"][data-status="dispatched"]`).waitFor({ timeout: WAIT });
    await page.selectOption('#filter-status', 'dispatched');
    assert.deepEqual(await rows(page), [fire.id]);
    await page.selectOption('#filter-status', '');
    // e opens the description editor with the focus in it.
    await page.keyboard.press('e');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'detail-edit-text');
    await page.keyboard.press('Escape');

    // Coordinates in the three systems, as the centre's PROJ computes them.
    const [lon, lat] = PLACES.tianhe;
    await page.locator('#detail-coords', { hasText: '113.324500°E 23.137200°N (WGS84)' }).waitFor({ timeout: WAIT });
    const gk = (await sup('GET', `/api/v1/gis/transform?from=wgs84&to=gk&x=${lon}&y=${lat}`)).json;
    await page.selectOption('#crs', 'gk');
    await page.locator('#detail-coords', { hasText: `N ${gk.y.toFixed(2)} m E ${gk.x.toFixed(2)} m` }).waitFor({ timeout: WAIT });
    assert.match(await page.textContent('#detail-coords'), /#38\)/, 'Gauss-Krüger zone 38');
    const gcj = (await sup('GET', `/api/v1/gis/transform?from=wgs84&to=gcj02&x=${lon}&y=${lat}`)).json;
    await page.selectOption('#crs', 'gcj02');
    await page.locator('#detail-coords', { hasText: `${gcj.x.toFixed(6)}°E ${gcj.y.toFixed(6)}°N (GCJ-02)` }).waitFor({ timeout: WAIT });
    assert.notEqual(gcj.x.toFixed(6), lon.toFixed(6), 'GCJ-02 is shifted in mainland China');
    // A click on the map shows that point in the chosen system too.
    await page.click('#map', { position: { x: 200, y: 200 } });
    await page.locator('#map-coords', { hasText: '(GCJ-02)' }).waitFor({ timeout: WAIT });
    await page.selectOption('#crs', 'wgs84');
    await page.locator('#map-coords', { hasText: '(WGS84)' }).waitFor({ timeout: WAIT });
    await shot(page, 'desk');

    // Escalation: a priority-1 report left new past its 5 s deadline.
    const urgent = await make('V-ESC', 'tianhe', { priority: 1, title: '高层住宅冒烟', address: '天河区体育东路118号' });
    await page.locator(`#queue tr[data-id="${urgent.id}"].escalated`).waitFor({ timeout: WAIT });
    await page.locator('#cue[data-kind=escalated]').waitFor({ timeout: WAIT });
    assert.match(await page.textContent('#cue'), new RegExp(`警情升级 #${urgent.id}`));
    assert.equal(await page.getAttribute('#cue', 'data-sound'), 'played', 'the cue is audible');
    assert.equal(await page.getAttribute('#mute', 'data-state'), 'on');
    // (a task of the plan left unacknowledged past its 60 s would be an alert too, on a slow run)
    assert.ok(Number(await page.textContent('#alert-count')) >= 1);
    await shot(page, 'desk-escalation');
    await page.keyboard.press('3');
    await page.locator(`#alerts-list li[data-kind="incident.escalated"]`).waitFor({ timeout: WAIT });
    assert.match(await page.textContent('#alerts-list'), new RegExp(`#${urgent.id}`));
    await shot(page, 'alerts');
    assert.equal(await page.locator('#alerts-list li[data-kind="incident.escalated"]').count(), 1);
    for (let n = await page.locator('#alerts-list li button').count(); n > 0; n--) {
      await page.locator('#alerts-list li button').first().click();
      await page.waitForFunction((m) => document.querySelectorAll('#alerts-list li button').length < m, n, { timeout: WAIT });
    }
    await page.locator('#alert-count[hidden]').waitFor({ state: 'attached', timeout: WAIT });

    // The unit board: every unit, the assigned one dispatched to its incident, counts per status.
    await page.keyboard.press('2');
    await page.locator('#units-table tr[data-unit="TH-FE-1"][data-status="dispatched"]').waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#units-table tbody tr').count(), 6);
    assert.match(await page.textContent('#units-table tr[data-unit="TH-FE-1"]'), new RegExp(`#${fire.id}`));
    assert.match(await page.textContent('#units-table tr[data-unit="SPARE-1"]'), /无定位/);
    assert.match(await page.textContent('#units-summary [data-status=available]'), /待命 5/);
    assert.match(await page.textContent('#units-summary [data-status=dispatched]'), /已派遣 1/);
    await shot(page, 'units');

    // Statistics: bars per hour and line, per line, the intervals against their targets.
    await page.keyboard.press('4');
    await page.locator('#svg-hours rect').first().waitFor({ timeout: WAIT });
    const perHour = await page.$$eval('#svg-hours rect', (rs) => rs.reduce((n, x) => n + Number(x.dataset.n), 0));
    assert.equal(perHour, 5);
    assert.equal(await page.getAttribute('#chart-lines li[data-key="119"]', 'data-n'), '2');
    assert.equal(await page.locator('#svg-intervals rect[data-interval=acknowledge]').count(), 3, 'p50, p90, p95 bars');
    assert.equal(await page.locator('#svg-intervals line.target').count(), 2, 'targets of the intervals with data');
    await shot(page, 'stats');

    // English, then back to Chinese: every label from the one dictionary.
    await page.click('#lang');
    await page.locator('#views button[data-view=desk]', { hasText: 'Dispatch' }).waitFor({ timeout: WAIT });
    await page.locator('#conn[data-state=live]', { hasText: /^Live$/ }).waitFor({ timeout: WAIT });
    await page.keyboard.press('1');
    await page.locator('#queue th', { hasText: 'Incident' }).waitFor({ timeout: WAIT });
    await shot(page, 'desk-en');
    await page.click('#lang');
    await page.locator('#conn[data-state=live]', { hasText: /^实时$/ }).waitFor({ timeout: WAIT });

    assert.deepEqual(offLoopback(c.requests), []);
    assert.deepEqual(c.errors, []);
    assert.deepEqual(c.failed, []);
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});

test('with console.tile_url the map asks this centre for tiles under the districts, and nothing else', async () => {
  const srv = await startServer({ args: ['--set', 'console.tile_url=/tiles/{z}/{x}/{y}.png'] });
  const browser = await launch();
  try {
    const c = await openConsole(browser, srv);
    await c.page.waitForFunction(() => document.querySelectorAll('#map img.leaflet-tile').length > 0, null, { timeout: WAIT });
    const tiles = c.requests.filter((u) => /\/tiles\/\d+\/\d+\/\d+\.png$/.test(new URL(u).pathname));
    assert.ok(tiles.length > 0);
    assert.ok(tiles.every((u) => u.startsWith(srv.base + '/tiles/')));
    assert.deepEqual(offLoopback(c.requests), []);
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});

test('incident detail: a likely duplicate merged in one click, the alarm raised, a link by number, the timeline', async () => {
  const srv = await seededServer({ users: [['sup', 'supervisor']] });
  const browser = await launch();
  try {
    const a = (await intake(srv, report('DUP-A', { priority: 2, title: '天河路商铺火灾', address: '天河区天河路208号' }))).json.incident;
    const b = (await intake(srv, report('DUP-B', { priority: 2, title: '商铺起火', address: '天河区天河路210号',
      lat: PLACES.tianhe[1] + 0.0009 }))).json.incident;
    assert.ok(b.links.some((l) => l.kind === 'duplicate_suspect' && l.incident === a.id), JSON.stringify(b.links));
    const far = (await intake(srv, report('FAR-110', { line: '110', category: 'social_security', type: 'fight', priority: 3,
      title: '聚众斗殴', address: '海珠区江南大道中180号', lon: PLACES.haizhu[0], lat: PLACES.haizhu[1] }))).json.incident;

    const c = await openConsole(browser, srv, { user: 'sup' });
    const { page } = c;
    await page.locator(`#queue tr[data-id="${b.id}"]`).waitFor({ timeout: WAIT });
    assert.match(await page.textContent(`#queue tr[data-id="${b.id}"]`), /疑重/);
    await page.click(`#queue tr[data-id="${b.id}"]`);
    const dup = page.locator(`#detail-links li[data-incident="${a.id}"][data-kind=duplicate_suspect]`);
    await dup.waitFor({ timeout: WAIT });
    assert.match(await dup.textContent(), /\d+ m/, 'with its distance');
    await dup.locator('button[data-act=merge]').click();
    // Merged: gone from the queue, recorded on the surviving incident.
    await page.locator(`#queue tr[data-id="${b.id}"]`).waitFor({ state: 'detached', timeout: WAIT });
    assert.equal((await srv.get(`/api/v1/incidents/${b.id}`)).status, 401, 'REST needs the session');

    await page.click(`#queue tr[data-id="${a.id}"]`);
    await page.locator(`#detail-links li[data-incident="${b.id}"]`).waitFor({ timeout: WAIT });
    // Raise the alarm: level 2 of the building-fire plan tasks 110 as well.
    await page.click('#raise-alarm');
    await page.locator('#detail-tasks tr[data-agency="110"]').waitFor({ timeout: WAIT });
    assert.match(await page.textContent('#detail-fields'), /2 · building-fire/);
    // Link by number.
    await page.fill('#link-target', String(far.id));
    await page.selectOption('#link-kind', 'related');
    await page.click('#link-add');
    await page.locator(`#detail-links li[data-incident="${far.id}"][data-kind=related]`).waitFor({ timeout: WAIT });
    // The timeline is the journal's: reported, merged, alarm raised, linked.
    await page.locator('#detail-history li[data-kind="incident.linked"]').waitFor({ timeout: WAIT });
    const kinds = await page.$$eval('#detail-history li', (lis) => lis.map((li) => li.dataset.kind));
    assert.equal(kinds[0], 'incident.created');
    assert.ok(kinds.includes('incident.alarm_raised'), kinds.join());
    assert.ok(kinds.includes('incident.merged'), kinds.join());
    await shot(page, 'desk-detail-links');
    assert.deepEqual(offLoopback(c.requests), []);
    assert.deepEqual(c.errors, []);
    assert.deepEqual(c.failed, []);
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});

test('what agencies write is shown as text, never as markup: queue, detail, map tooltip, banner', async () => {
  const srv = await startServer();
  const browser = await launch();
  try {
    const c = await openConsole(browser, srv);
    const { page } = c;
    const title = '<img id="pwned" src="/x.png"><b id="bold">粗体</b>';
    const inc = (await srv.post('/api/v1/intake/json', report('MARKUP-1', { title, address: '<i id="ital">天河</i>' }))).json.incident;
    const row = page.locator(`#queue tr[data-id="${inc.id}"]`);
    await row.waitFor({ timeout: WAIT });
    assert.match(await row.textContent(), /<img id="pwned"/);
    assert.match(await page.textContent('#cue'), /<b id="bold">/);
    // No click yet: the browser allows no sound, and the header says so instead of pretending.
    assert.equal(await page.getAttribute('#cue', 'data-sound'), 'blocked');
    assert.equal(await page.textContent('#mute'), '点击启用提示音');
    await row.click();
    await page.locator('#mute[data-state=on]').waitFor({ timeout: WAIT });
    await page.locator(`#detail-body[data-id="${inc.id}"]`).waitFor({ timeout: WAIT });
    assert.match(await page.textContent('#detail-title'), /<b id="bold">粗体<\/b>/);
    await page.hover(`#map path.inc-${inc.id}`);
    const tip = page.locator('.leaflet-tooltip', { hasText: '<img id="pwned"' });
    await tip.waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#pwned, #bold, #ital').count(), 0, 'no element was made from the text');
    assert.ok(!c.requests.some((u) => u.endsWith('/x.png')), 'nothing was loaded from it');
    assert.deepEqual(c.errors, []);
  } finally {
    await browser.close();
    await srv.stop();
    srv.cleanup();
  }
});
