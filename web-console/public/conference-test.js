// The test page's script: one console WebSocket (hello, then conference and
// rtc.* frames to ConferenceClient), and window.conference for the tests.
import { ConferenceClient } from './conference.js';

const params = new URLSearchParams(location.search);
const conferenceId = Number(params.get('conference') || 1);
const publish = params.get('publish') === '1';
const $ = (id) => document.getElementById(id);
const log = (line) => { $('log').textContent += line + '\n'; };

const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, 'liandong.v1');
const cc = new ConferenceClient((msg) => ws.send(JSON.stringify(msg)));
const page = { cc, ws, errors: [], states: [], welcome: false };
window.conference = page;

cc.onstate = (s) => { page.states.push(s); $('state').textContent = s; log(`state ${s}`); };
cc.onerror = (e) => { page.errors.push(e); log(`error ${e.code}: ${e.message}`); };
cc.onpublish = (s) => { page.publish = s; log(`publish ${s}`); };
cc.onconference = (c) => {
  if (c.id !== conferenceId) return;
  $('name').textContent = c.name;
  $('source').textContent = (c.sources[0] || {}).state || '?';
};

ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', last_seq: 0 }));
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  if (cc.handle(msg)) return;
  if (msg.type === 'welcome') {
    page.welcome = true;
    fetch(`/api/v1/conferences/${conferenceId}`).then((r) => r.json()).then((c) => {
      cc.handle({ type: 'conference', conference: c });
      cc.join(conferenceId, $('video'), { publish }).catch((e) => page.errors.push({ code: 'join', message: e.message }));
    });
  }
};

// Inbound RTP counters of the stream, for the tests: {video: {...}, audio: {...}}.
page.stats = async () => {
  const pc = cc.peerConnection;
  const out = { video: null, audio: null };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && (s.kind === 'video' || s.kind === 'audio')) {
      out[s.kind] = {
        packetsReceived: s.packetsReceived || 0,
        framesDecoded: s.framesDecoded || 0,
        totalSamplesReceived: s.totalSamplesReceived || 0,
        codec: s.codecId || null,
      };
    }
  });
  return out;
};
