// Coordinates in the user's choice of system. The API speaks WGS84; CGCS2000
// Gauss-Krüger (3° zones) and GCJ-02 come from the centre's PROJ-backed
// /api/v1/gis/transform (answers cached, the list bounded).
import { ctx } from './ctx.js';
import { t } from './i18n.js';

const cache = new Map();
const CACHE_MAX = 2000;

async function transform(to, lon, lat) {
  const key = `${to}:${lon}:${lat}`;
  if (cache.has(key)) return cache.get(key);
  const r = await fetch(`/api/v1/gis/transform?from=wgs84&to=${to}&x=${lon}&y=${lat}`).catch(() => null);
  if (!r || !r.ok) return null;
  const v = await r.json();
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value);
  cache.set(key, v);
  return v;
}

const deg = (v, pos, neg) => `${Math.abs(v).toFixed(6)}°${v >= 0 ? pos : neg}`;

// "113.324500°E 23.137200°N (WGS84)", "N 2559126.70 m E 38424204.70 m (CGCS2000 GK 3° #38)"...
export async function formatCoords(lon, lat, crs = ctx.crs) {
  if (lon == null || lat == null) return '';
  if (crs === 'wgs84') return `${deg(lon, 'E', 'W')} ${deg(lat, 'N', 'S')} (WGS84)`;
  const v = await transform(crs, lon, lat);
  if (!v) return `${deg(lon, 'E', 'W')} ${deg(lat, 'N', 'S')} (WGS84)`;
  if (crs === 'gk') return `N ${v.y.toFixed(2)} m E ${v.x.toFixed(2)} m (${t('crs_gk')} 3° #${v.zone})`;
  return `${deg(v.x, 'E', 'W')} ${deg(v.y, 'N', 'S')} (GCJ-02)`;
}
