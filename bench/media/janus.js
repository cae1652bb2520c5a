// bench/media/janus.js - watch a janus streaming mountpoint over janus's HTTP
// API (REST + long poll), the peer's viewer in bench/media: create a session,
// attach janus.plugin.streaming, "watch" the mountpoint, answer janus's offer
// with "start", trickle our candidates, and long-poll the session for events
// (the offer, janus's candidates, webrtcup, hangup). window.viewer carries the
// state, the errors and the RTCPeerConnection (pc) for viewers.mjs.
const params = new URLSearchParams(location.search);
const base = params.get('janus');
const mountpoint = Number(params.get('id') || 1);
const $ = (id) => document.getElementById(id);
const log = (line) => { $('log').textContent += line + '\n'; };

const viewer = { state: 'idle', errors: [], pc: null, session: null, handle: null };
window.viewer = viewer;
const setState = (s) => { viewer.state = s; $('state').textContent = s; log(`state ${s}`); };
const fail = (code, message) => { viewer.errors.push({ code, message }); log(`error ${code}: ${message}`); };

let txn = 0;
// One Janus API request; resolves with the reply, rejects on {"janus":"error"}.
// The body goes as text/plain so the cross-origin request needs no preflight.
async function api(url, msg) {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify({ ...msg, transaction: `t${++txn}` }) });
  const reply = await r.json();
  if (reply.janus === 'error') throw new Error(`${reply.error.code} ${reply.error.reason}`);
  return reply;
}

const handleUrl = () => `${base}/${viewer.session}/${viewer.handle}`;
let answered = false;
const pendingIce = [];

function trickle(candidate) {
  api(handleUrl(), { janus: 'trickle', candidate }).catch((e) => fail('trickle', e.message));
}

async function onOffer(jsep) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  viewer.pc = pc;
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    if ($('video').srcObject !== stream) {
      $('video').srcObject = stream;
      $('video').play().catch(() => {});
    }
  };
  pc.onicecandidate = (e) => {
    const c = e.candidate && e.candidate.candidate
      ? { candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }
      : { completed: true };
    if (answered) trickle(c);
    else pendingIce.push(c);
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') { fail('ice_failed', 'connection failed'); setState('closed'); }
  };
  await pc.setRemoteDescription(jsep);
  await pc.setLocalDescription(await pc.createAnswer());
  await api(handleUrl(), { janus: 'message', body: { request: 'start' }, jsep: { type: 'answer', sdp: pc.localDescription.sdp } });
  answered = true;
  pendingIce.splice(0).forEach(trickle);
}

function onEvent(ev) {
  switch (ev.janus) {
    case 'event': {
      const data = ev.plugindata && ev.plugindata.data;
      if (data && data.error) fail(`janus_${data.error_code}`, data.error);
      if (ev.jsep && ev.jsep.type === 'offer') onOffer(ev.jsep).catch((e) => fail('browser_error', e.message));
      break;
    }
    case 'trickle':
      if (viewer.pc && ev.candidate && !ev.candidate.completed) {
        viewer.pc.addIceCandidate(ev.candidate).catch((e) => fail('browser_error', e.message));
      }
      break;
    case 'webrtcup':
      setState('connected');
      break;
    case 'hangup':
    case 'detached':
      setState('closed');
      break;
    default:
      break;
  }
}

// Long poll: janus answers with up to maxev events, or a keepalive after 30 s
// (a long poll also keeps the session alive).
async function poll() {
  while (viewer.session !== null && viewer.state !== 'closed') {
    try {
      const r = await fetch(`${base}/${viewer.session}?maxev=10&rid=${Date.now()}`);
      const evs = await r.json();
      (Array.isArray(evs) ? evs : [evs]).forEach(onEvent);
    } catch (e) {
      if (viewer.session !== null) fail('poll', e.message);
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}

// End the session (janus hangs the PeerConnection up and frees the viewer).
viewer.close = async () => {
  const s = viewer.session;
  viewer.session = null;
  if (viewer.pc) viewer.pc.close();
  if (s !== null) await api(`${base}/${s}`, { janus: 'destroy' }).catch(() => {});
  setState('closed');
};

(async () => {
  setState('negotiating');
  viewer.session = (await api(base, { janus: 'create' })).data.id;
  viewer.handle = (await api(`${base}/${viewer.session}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data.id;
  poll();
  await api(handleUrl(), { janus: 'message', body: { request: 'watch', id: mountpoint } });
})().catch((e) => { fail('janus', e.message); setState('closed'); });
