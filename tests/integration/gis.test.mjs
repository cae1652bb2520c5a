// GIS through the real binary: import Guangzhou's districts (GCJ-02, fetched
// by scripts/setup.sh into gis/data/), every district holds its own label
// point and no other does, the REST endpoints with bad input, an import that
// is all or nothing, and the gazetteer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tempDir } from './harness.mjs';

const BIN = process.env.LIANDONG_BIN;
const here = path.dirname(fileURLToPath(import.meta.url));
const GZ = path.join(here, '../../gis/data/guangzhou.geojson');
const have = existsSync(GZ);
const skip = have ? false : `${GZ} is missing: run scripts/setup.sh (it fetches the district data)`;

function importCmd(dir, kind, file, extra = []) {
  return spawnSync(BIN, ['import', kind, file, '--data', dir, ...extra], { encoding: 'utf8' });
}

test('districts: import, label points, REST, bad input, all-or-nothing', { skip }, async () => {
  const dir = tempDir('gis');
  const imp = importCmd(dir, 'jurisdictions', GZ, ['--crs', 'gcj02']);
  assert.equal(imp.status, 0, imp.stderr);
  assert.match(imp.stdout, /imported 11 jurisdictions/);
  // Re-importing replaces (idempotent demo set-up).
  assert.equal(importCmd(dir, 'jurisdictions', GZ, ['--crs', 'gcj02']).status, 0);

  const srv = await startServer({ dataDir: dir });
  try {
    const j = await srv.get('/api/v1/gis/jurisdictions');
    assert.equal(j.status, 200, j.text);
    assert.equal(j.json.type, 'FeatureCollection');
    assert.equal(j.json.features.length, 11);
    const raw = JSON.parse(readFileSync(GZ, 'utf8'));
    assert.ok(j.text.length < readFileSync(GZ).length, 'simplified for the map');
    // Every district holds its own label point and no other district does.
    for (const f of j.json.features) {
      const [lon, lat] = f.properties.label;
      const r = await srv.get(`/api/v1/gis/district?lon=${lon}&lat=${lat}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.district?.code, f.properties.code, `${f.properties.name}'s label point`);
    }
    // The source's own label points (cp, GCJ-02) land in their districts too.
    for (const f of raw.features) {
      const [lon, lat] = f.properties.cp;
      const r = await srv.get(`/api/v1/gis/district?lon=${lon}&lat=${lat}&crs=gcj02`);
      assert.equal(r.json.district?.code, f.properties.code, `${f.properties.name}: cp`);
    }
    // 天河 (WGS84), and a point at sea / outside Guangzhou.
    let r = await srv.get('/api/v1/gis/district?lon=113.3245&lat=23.1372');
    assert.equal(r.json.district.name, '天河区');
    r = await srv.get('/api/v1/gis/district?lon=114.17&lat=22.30');
    assert.equal(r.status, 200);
    assert.equal(r.json.district, null);

    // Transforms.
    r = await srv.get('/api/v1/gis/transform?from=wgs84&to=gk&x=113.26&y=23.13');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.zone, 38);
    assert.ok(r.json.x > 38e6 && r.json.x < 39e6);
    const back = await srv.get(`/api/v1/gis/transform?from=gk&to=wgs84&x=${r.json.x}&y=${r.json.y}`);
    assert.ok(Math.abs(back.json.x - 113.26) < 1e-8 && Math.abs(back.json.y - 23.13) < 1e-8);
    r = await srv.get('/api/v1/gis/transform?from=wgs84&to=gcj02&x=113.26&y=23.13');
    assert.ok(r.json.x > 113.26 && r.json.x - 113.26 < 0.01);
    r = await srv.get('/api/v1/gis/transform?from=wgs84&to=gcj02&x=114.17&y=22.30');
    assert.deepEqual([r.json.x, r.json.y], [114.17, 22.30], 'Hong Kong is not shifted');

    // Bad input: 400 with a code and a detail naming the problem.
    const cases = [
      ['swapped lat/lon', '/api/v1/gis/transform?from=wgs84&to=gk&x=23.13&y=113.26', 'invalid_query', /swapped/],
      ['unknown CRS', '/api/v1/gis/transform?from=beijing54&to=wgs84&x=1&y=2', 'invalid_query', /unknown CRS/],
      ['missing y', '/api/v1/gis/transform?from=wgs84&to=gk&x=113', 'invalid_query', /y is required/],
      ['not a number', '/api/v1/gis/district?lon=abc&lat=23', 'invalid_query', /number/],
      ['district swapped', '/api/v1/gis/district?lon=23.13&lat=113.26', 'invalid_query', /swapped/],
      ['outside zones', '/api/v1/gis/transform?from=wgs84&to=gk&x=2.35&y=48.86', 'invalid_query', /outside/],
      ['no query', '/api/v1/gis/places', 'invalid_query', /q is required/],
      ['bad limit', '/api/v1/gis/places?q=abc&limit=0', 'invalid_query', /limit/],
    ];
    for (const [name, p, code, detail] of cases) {
      const res = await srv.get(p);
      assert.equal(res.status, 400, `${name}: ${res.text}`);
      assert.equal(res.json.error.code, code, name);
      assert.match(res.json.error.detail, detail, name);
    }

    // All or nothing: a file with one bad feature imports nothing.
    const bad = JSON.parse(readFileSync(GZ, 'utf8'));
    bad.features = bad.features.slice(0, 3);
    bad.features[0].properties.code = '990001';
    bad.features[2].geometry.coordinates[0].pop(); // an unclosed ring
    const badFile = path.join(dir, 'bad.geojson');
    writeFileSync(badFile, JSON.stringify(bad));
    let res = importCmd(dir, 'jurisdictions', badFile, ['--crs', 'gcj02']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /feature 2 \(海珠区\).*not closed.*nothing was imported/);
    // Other refusals, each naming the feature and reason.
    const point = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { name: '点', code: '1' }, geometry: { type: 'Point', coordinates: [113, 23] } }] };
    writeFileSync(badFile, JSON.stringify(point));
    res = importCmd(dir, 'jurisdictions', badFile);
    assert.match(res.stderr, /feature 0 \(点\): geometry is a Point, not a Polygon/);
    const bow = { type: 'FeatureCollection', features: [{ type: 'Feature', properties: { name: '蝴蝶', code: '2' }, geometry: { type: 'Polygon', coordinates: [[[113, 23], [113.1, 23.1], [113.1, 23], [113, 23.1], [113, 23]]] } }] };
    writeFileSync(badFile, JSON.stringify(bow));
    res = importCmd(dir, 'jurisdictions', badFile);
    assert.match(res.stderr, /蝴蝶.*intersects itself/);
    writeFileSync(badFile, Buffer.from([0x7b, 0x22, 0xcc, 0xec, 0xba, 0xd3, 0x22, 0x7d])); // GBK "天河"
    res = importCmd(dir, 'jurisdictions', badFile);
    assert.match(res.stderr, /not UTF-8/);
    res = importCmd(dir, 'jurisdictions', GZ, ['--crs', 'bd09']);
    assert.equal(res.status, 2);
    assert.match(res.stderr, /unknown CRS/);
    // Still the 11 districts.
    const after = await srv.get('/api/v1/gis/jurisdictions');
    assert.equal(after.json.features.length, 11);
    assert.ok(!after.text.includes('990001'));

    // Gazetteer: CSV import, trigram search and the short-query fallback.
    const csv = path.join(dir, 'places.csv');
    writeFileSync(csv, 'name,lon,lat,kind,address\n' +
      '广州塔,113.3245,23.1064,landmark,海珠区阅江西路222号\n' +
      '天河体育中心,113.3245,23.1372,stadium,天河区天河路299号\n' +
      '中山大学附属第一医院,113.2875,23.1303,hospital,越秀区中山二路58号\n' +
      '广州市第一人民医院,113.2655,23.1335,hospital,越秀区盘福路1号\n');
    res = importCmd(dir, 'places', csv);
    assert.equal(res.status, 0, res.stderr);
    r = await srv.get('/api/v1/gis/places?q=' + encodeURIComponent('体育中心'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.places[0].name, '天河体育中心');
    assert.equal(r.json.places[0].district.name, '天河区');
    r = await srv.get('/api/v1/gis/places?q=' + encodeURIComponent('医院'));
    assert.equal(r.json.places.length, 2);
    r = await srv.get('/api/v1/gis/places?q=' + encodeURIComponent('广州塔'));
    assert.equal(r.json.places[0].name, '广州塔');
    assert.equal(r.json.places[0].district.code, '440105');
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});

test('every incident gets its district at intake, and a moved incident follows its position', { skip }, async () => {
  const dir = tempDir('gisin');
  assert.equal(importCmd(dir, 'jurisdictions', GZ, ['--crs', 'gcj02']).status, 0);
  const srv = await startServer({ dataDir: dir });
  try {
    const base = { line: '119', category: 'accident', priority: 1, title: '居民楼火灾' };
    // 天河路 (Tianhe) and 北京路 (Yuexiu), WGS84.
    const t = await srv.post('/api/v1/intake/json', { ...base, ext_ref: 'D-1', lon: 113.3245, lat: 23.1372 });
    assert.equal(t.status, 201, t.text);
    assert.equal(t.json.incident.district.name, '天河区');
    const lookup = await srv.get('/api/v1/gis/district?lon=113.3245&lat=23.1372');
    assert.equal(t.json.incident.district.code, lookup.json.code ?? lookup.json.district?.code);
    // Moved to Yuexiu by a dispatcher: the district follows.
    const p = await srv.request('PATCH', `/api/v1/incidents/${t.json.incident.id}`,
      { body: { lon: 113.2697, lat: 23.1257 }, headers: { 'if-match': '"1"' } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.incident.district.name, '越秀区');
    // Outside every district (the sea off Hong Kong) and without a position: none.
    const sea = await srv.post('/api/v1/intake/json', { ...base, ext_ref: 'D-2', lon: 114.3, lat: 22.0 });
    assert.equal(sea.json.incident.district, null);
    const nopos = await srv.post('/api/v1/intake/json', { ...base, ext_ref: 'D-3' });
    assert.equal(nopos.json.incident.district, null);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
