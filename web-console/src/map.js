// The map (Leaflet): the districts from the centre's GIS as the base layer
// (no tiles unless console.tile_url names a tile path on this centre),
// incidents coloured by line and sized by priority, units by status.
// Clicking an incident opens it; clicking elsewhere shows the point's
// coordinates in the chosen system.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { store } from './live.js';
import { ctx, LINE_COLOURS, UNIT_COLOURS, OPEN_STATUSES } from './ctx.js';
import { label, t } from './i18n.js';
import { formatCoords } from './coords.js';

const GUANGZHOU = [23.13, 113.32];

// Leaflet puts a string tooltip in as HTML; what agencies wrote goes in as text.
function textNode(text) {
  const span = document.createElement('span');
  span.textContent = text;
  return span;
}

export class LiveMap {
  constructor(el, { onSelect, coordsEl = null, units = true, only = null, scale = 1 } = {}) {
    this.scale = scale; // marker size (the leadership map shows the whole city)
    this.el = el;
    this.onSelect = onSelect;
    this.coordsEl = coordsEl;
    this.showUnits = units;
    this.only = only; // a filter on incidents (the leadership map shows all open ones)
    this.map = L.map(el, { preferCanvas: false, attributionControl: false, zoomSnap: 0.5 })
      .setView(GUANGZHOU, 9);
    if (ctx.tileUrl) L.tileLayer(ctx.tileUrl, { maxZoom: 18 }).addTo(this.map);
    this.districtLayer = L.layerGroup().addTo(this.map);
    this.unitLayer = L.layerGroup().addTo(this.map);
    this.incLayer = L.layerGroup().addTo(this.map);
    this.incMarkers = new Map();
    this.unitMarkers = new Map();
    this.picked = null;
    this.map.on('click', (e) => this.pick(e.latlng.lng, e.latlng.lat));
    if (ctx.districtsGeo) this.setDistricts(ctx.districtsGeo);
  }

  setDistricts(fc) {
    this.districtLayer.clearLayers();
    const layer = L.geoJSON(fc, {
      style: () => ({ color: '#4f7396', weight: 1.2, fillColor: '#1b2a3a', fillOpacity: 0.9, className: 'district' }),
      onEachFeature: (f, lyr) => { lyr.on('click', (e) => this.pick(e.latlng.lng, e.latlng.lat)); },
    }).addTo(this.districtLayer);
    for (const f of fc.features) {
      const [lon, lat] = f.properties.label || [];
      if (lon == null) continue;
      L.marker([lat, lon], { interactive: false, keyboard: false,
        icon: L.divIcon({ className: 'district-label', html: '', iconSize: null }) })
        .addTo(this.districtLayer)
        .getElement().textContent = f.properties.name;
    }
    if (fc.features.length) this.map.fitBounds(layer.getBounds(), { padding: [8, 8] });
  }

  async pick(lon, lat) {
    this.picked = [lon, lat];
    if (!this.coordsEl) return;
    const text = await formatCoords(lon, lat);
    this.coordsEl.textContent = `${t('map_point')}: ${text}`;
    this.coordsEl.dataset.lon = String(lon);
    this.coordsEl.dataset.lat = String(lat);
  }

  refreshPicked() { if (this.picked) this.pick(...this.picked); }

  update() {
    const seen = new Set();
    for (const inc of store.incidents.values()) {
      if (inc.lon == null || !OPEN_STATUSES.includes(inc.status)) continue;
      if (this.only && !this.only(inc)) continue;
      seen.add(inc.id);
      const style = {
        radius: (11 - 2 * inc.priority) * this.scale, color: inc.escalated_at ? '#ffffff' : '#0b1118',
        weight: inc.id === ctx.selected ? 3 : 1.5, fillColor: LINE_COLOURS[inc.line] || LINE_COLOURS.other,
        fillOpacity: 0.95,
      };
      let m = this.incMarkers.get(inc.id);
      if (!m) {
        m = L.circleMarker([inc.lat, inc.lon], { ...style, className: `inc-marker inc-${inc.id}`, bubblingMouseEvents: false })
          .on('click', () => this.onSelect && this.onSelect(inc.id))
          .addTo(this.incLayer);
        m.bindTooltip(textNode(''), { direction: 'top', offset: [0, -6] });
        this.incMarkers.set(inc.id, m);
      } else {
        m.setLatLng([inc.lat, inc.lon]).setStyle(style);
      }
      m.setTooltipContent(textNode(`#${inc.id} P${inc.priority} ${label('line', inc.line)} · ${inc.title} · ${label('st', inc.status)}`));
      const path = m.getElement();
      if (path) {
        path.dataset.line = inc.line;
        path.dataset.priority = String(inc.priority);
        path.dataset.status = inc.status;
      }
    }
    for (const [id, m] of this.incMarkers) if (!seen.has(id)) { m.remove(); this.incMarkers.delete(id); }
    this.updateUnits();
  }

  updateUnits() {
    if (!this.showUnits) return;
    const seen = new Set();
    for (const u of store.units.values()) {
      if (u.lon == null) continue;
      seen.add(u.id);
      const style = { radius: 4, color: UNIT_COLOURS[u.status] || '#888', weight: 2, fillColor: '#0b1118',
        fillOpacity: u.stale ? 0.2 : 0.9, dashArray: u.stale ? '2 2' : null };
      let m = this.unitMarkers.get(u.id);
      if (!m) {
        m = L.circleMarker([u.lat, u.lon], { ...style, className: `unit-marker unit-${u.id}` }).addTo(this.unitLayer);
        m.bindTooltip(textNode(''));
        this.unitMarkers.set(u.id, m);
      } else {
        m.setLatLng([u.lat, u.lon]).setStyle(style);
      }
      m.setTooltipContent(textNode(`${u.id} · ${label('ag', u.agency)} ${label('kind', u.kind)} · ${label('ust', u.status)}${u.stale ? ' · ' + t('stale') : ''}`));
      const path = m.getElement();
      if (path) path.dataset.status = u.status;
    }
    for (const [id, m] of this.unitMarkers) if (!seen.has(id)) { m.remove(); this.unitMarkers.delete(id); }
  }

  // Bring an opened incident into view, close enough to see the units around it.
  focus(inc) {
    if (!inc || inc.lon == null) return;
    if (this.map.getZoom() < 12) this.map.setView([inc.lat, inc.lon], 12);
    else if (!this.map.getBounds().pad(-0.1).contains([inc.lat, inc.lon])) this.map.panTo([inc.lat, inc.lon]);
  }

  resize() { this.map.invalidateSize(); }
}
