// The HLS reader and decoder behind the conference panel's fallback player
// (src/hls-player.js), in a dedicated worker.
//
// Why not hls.js's own player: it plays through Media Source Extensions, and a
// MediaSource reaches a <video> only by URL (blob:) or, from a worker, by a
// MediaSourceHandle; Chromium checks both against the page's content security
// policy, whose default-src 'none' (no media-src) refuses them. A MediaStream
// (srcObject, as WebRTC plays) is not a load and is allowed. So here:
//   - hls.js's playlist parser reads the live media playlist the server writes
//     per source (hlssink2: MPEG-TS segments of H.264 + AAC, 2 s each);
//   - new segments are fetched in order (same origin, so the session cookie
//     goes with them and the server's role checks apply);
//   - mux.js splits the MPEG-TS into PES packets (an H.264 access unit each,
//     Annex B) and AAC frames;
//   - WebCodecs decodes them, each access unit at its presentation time on a
//     clock anchored at the first keyframe, and the decoded VideoFrames and
//     AudioData go to the page, which writes them into the tracks of the
//     MediaStream the video plays.
// The play-out starts START_BACK segments before the live edge, jumps back to
// it when it falls MAX_LAG_US behind (a stall, a throttled tab), and starts
// over at the next keyframe when the timestamps jump (the source restarted).
// Memory stays bounded: at most MAX_LAG_US of encoded data waits.
//
// Messages in:  {type: 'start', url}   the playlist's absolute URL
// Messages out: {type: 'frame', frame} a VideoFrame, due now (transferred)
//               {type: 'audio', data}  an AudioData, due now (transferred)
//               {type: 'error', status, code, message, fatal}  retried unless fatal
//               {type: 'ok'}           the playlist answers again after an error
import { M3U8Parser } from 'hls.js/light';
import m2ts from 'mux.js/lib/m2ts/m2ts.js';
import AdtsStream from 'mux.js/lib/codecs/adts.js';

const START_BACK = 3; // a first load starts this many segments before the live edge
const MAX_LAG_US = 12e6; // further behind the newest data than this: jump
const LIVE_DELAY_US = 2e6; // a jump lands on a keyframe at least this far behind the newest data
const LATE_MS = 500; // data due longer ago than this (it came late): the clock restarts at it
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 8000;

let url = null;
let lastSn = -1; // the newest segment read
let retryMs = RETRY_MIN_MS;
let failing = false;
let pollTimer = null;
let tickTimer = null;

// Encoded data waiting for its time: {ts (µs), key, data} for video, {ts, aac} for audio.
const vq = [];
const aq = [];
let newestTs = -1; // the newest video timestamp queued
let anchor = null; // {ts, wall}: media time ts is played at performance.now() == wall
let vdec = null;
let vconf = false; // vdec configured (from a keyframe's SPS)
let adec = null;
let aconf = null; // the audio configuration's key, once configured

self.onmessage = (e) => {
  if (e.data && e.data.type === 'start' && url === null) start(e.data.url);
};

function fail(status, code, message, fatal = false) {
  failing = true;
  self.postMessage({ type: 'error', status, code, message, fatal });
}

function start(playlistUrl) {
  url = playlistUrl;
  if (typeof VideoDecoder !== 'function') {
    fail(0, 'unsupported', self.isSecureContext ? 'no WebCodecs in this browser'
      : 'WebCodecs needs a secure page (HTTPS, or this machine)', true);
    return;
  }
  poll();
}

// ---- The playlist and its segments

async function fetchOk(u, what) {
  let res;
  try {
    res = await fetch(u, { cache: 'no-store', credentials: 'same-origin' });
  } catch (err) {
    return { error: { status: 0, code: 'network', message: `${what}: ${err.message || err}` } };
  }
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = res.statusText;
    try {
      const j = await res.json();
      if (j && j.error) ({ code, message } = j.error);
    } catch { /* not JSON */ }
    return { error: { status: res.status, code, message: `${what}: ${message}` } };
  }
  return { res };
}

function retry() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, retryMs);
  retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
}

// One look at the playlist and the new segments; whatever goes wrong is said and retried.
async function poll() {
  try {
    await pollOnce();
  } catch (err) {
    fail(0, 'hls_error', String(err.message || err));
    retry();
  }
}

async function pollOnce() {
  const got = await fetchOk(url, 'playlist');
  if (got.error) {
    fail(got.error.status, got.error.code, got.error.message);
    return retry();
  }
  const level = M3U8Parser.parseLevelPlaylist(await got.res.text(), url, 0, 'main', 0, null);
  if (level.playlistParsingError || level.fragments.length === 0) {
    fail(200, 'bad_playlist', level.playlistParsingError ? level.playlistParsingError.message : 'no segment in the playlist yet');
    return retry();
  }
  retryMs = RETRY_MIN_MS;
  if (failing) {
    failing = false;
    self.postMessage({ type: 'ok' });
  }
  const frags = level.fragments;
  if (frags[frags.length - 1].sn < lastSn) lastSn = -1; // the source restarted: numbered from 0 again
  let todo = frags.filter((f) => f.sn > lastSn);
  if (lastSn < 0) todo = todo.slice(-START_BACK);
  for (const f of todo) {
    const seg = await fetchOk(f.url, `segment ${f.sn}`);
    lastSn = f.sn;
    if (seg.error) {
      // Rotated out of the playlist meanwhile (404): go on with the newer ones.
      fail(seg.error.status, seg.error.code, seg.error.message);
      continue;
    }
    demux(new Uint8Array(await seg.res.arrayBuffer()));
    tick();
  }
  // A live playlist changes about every target duration: look twice as often.
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, Math.max(500, (level.targetduration || 2) * 500));
}

// ---- MPEG-TS to access units

const packets = new m2ts.TransportPacketStream();
const parse = new m2ts.TransportParseStream();
const pes = new m2ts.ElementaryStream();
const adts = new AdtsStream();
packets.pipe(parse).pipe(pes);
pes.pipe(adts);
pes.on('data', (p) => { if (p.type === 'video' && p.data) queueVideo(p); });
adts.on('data', (f) => queueAudio(f));

function demux(bytes) {
  packets.push(bytes);
  packets.flush();
}

const us = (t90k) => Math.round(t90k / 0.09);

// The NAL unit types in an Annex B access unit, and its SPS.
function nals(data) {
  const out = [];
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      out.push({ type: data[i + 3] & 0x1f, at: i + 3 });
      i += 2;
    }
  }
  return out;
}

function queueVideo(p) {
  const ts = us(p.pts);
  // A jump in time (the source restarted, or a gap): start over at the next keyframe.
  if (newestTs >= 0 && (ts < newestTs - 1e6 || ts > newestTs + 10e6)) restart();
  const units = nals(p.data);
  const key = units.some((n) => n.type === 5);
  const sps = units.find((n) => n.type === 7);
  vq.push({ ts, key, data: p.data, sps: sps ? p.data.subarray(sps.at, sps.at + 4) : null });
  newestTs = Math.max(newestTs, ts);
}

function queueAudio(f) {
  aq.push({ ts: us(f.pts), aac: f });
}

function restart() {
  vq.length = 0;
  aq.length = 0;
  newestTs = -1;
  anchor = null;
  if (vdec && vdec.state === 'configured') vdec.reset();
  vconf = false;
  if (adec && adec.state === 'configured') adec.reset();
  aconf = null;
}

// ---- Play-out

const due = (ts) => anchor.wall + (ts - anchor.ts) / 1000;

// Drop the queue up to the newest keyframe at least LIVE_DELAY_US behind the newest data
// (or the first keyframe), and restart the clock there; false when there is no keyframe.
function anchorAtKeyframe() {
  let k = -1;
  for (let i = 0; i < vq.length; i++) {
    if (!vq[i].key) continue;
    if (k < 0 || vq[i].ts <= newestTs - LIVE_DELAY_US) k = i;
  }
  if (k < 0) {
    vq.length = 0; // nothing can be decoded before a keyframe
    return false;
  }
  vq.splice(0, k);
  anchor = { ts: vq[0].ts, wall: performance.now() };
  while (aq.length && aq[0].ts < anchor.ts) aq.shift();
  return true;
}

function tick() {
  clearTimeout(tickTimer);
  tickTimer = null;
  const now = performance.now();
  if (anchor === null) {
    if (!anchorAtKeyframe()) return;
  } else if (vq.length && (newestTs - vq[0].ts > MAX_LAG_US)) {
    // Too far behind the live edge: jump (the decoder needs the keyframe we land on).
    anchorAtKeyframe();
  } else if (vq.length && due(vq[0].ts) < now - LATE_MS) {
    anchor = { ts: vq[0].ts, wall: now }; // the data came late: play on from here
    while (aq.length && aq[0].ts < anchor.ts) aq.shift();
  }
  try {
    while (vq.length && due(vq[0].ts) <= now + 5) decodeVideo(vq.shift());
  } catch (err) {
    // A decoder that failed: a new one at the next keyframe.
    fail(0, 'decode_error', `video: ${err.message || err}`);
    vdec = null;
    vconf = false;
  }
  try {
    while (aq.length && due(aq[0].ts) <= now + 5) decodeAudio(aq.shift());
  } catch {
    adec = null; // the picture goes on without sound
    aconf = null;
  }
  const next = Math.min(vq.length ? due(vq[0].ts) : Infinity, aq.length ? due(aq[0].ts) : Infinity);
  if (next !== Infinity) tickTimer = setTimeout(tick, Math.max(1, next - performance.now()));
}

function videoDecoder() {
  return new VideoDecoder({
    output: (frame) => self.postMessage({ type: 'frame', frame }, [frame]),
    error: (e) => {
      fail(0, 'decode_error', `video: ${e.message || e}`);
      vdec = null; // a new one at the next keyframe
      vconf = false;
    },
  });
}

function decodeVideo(u) {
  if (!vconf) {
    if (!u.key || !u.sps) return; // wait for a keyframe with its parameter sets
    const hex = (b) => b.toString(16).padStart(2, '0');
    if (!vdec) vdec = videoDecoder();
    // avc1.PPCCLL from the SPS (profile, constraints, level); no description: Annex B.
    vdec.configure({ codec: `avc1.${hex(u.sps[1])}${hex(u.sps[2])}${hex(u.sps[3])}`, optimizeForLatency: true });
    vconf = true;
  }
  if (vdec.decodeQueueSize > 30 && !u.key) return; // the decoder is behind: drop until the next keyframe
  vdec.decode(new EncodedVideoChunk({ type: u.key ? 'key' : 'delta', timestamp: u.ts, data: u.data }));
}

function decodeAudio(u) {
  const f = u.aac;
  const key = `${f.audioobjecttype}/${f.samplingfrequencyindex}/${f.channelcount}`;
  if (aconf !== key) {
    if (typeof AudioDecoder !== 'function') return;
    if (!adec) {
      adec = new AudioDecoder({
        output: (data) => {
          try {
            self.postMessage({ type: 'audio', data }, [data]);
          } catch {
            self.postMessage({ type: 'audio', data });
          }
        },
        error: () => { adec = null; aconf = null; }, // the picture goes on without sound
      });
    }
    // The AudioSpecificConfig: object type, sampling frequency index, channels.
    const asc = new Uint8Array([(f.audioobjecttype << 3) | (f.samplingfrequencyindex >> 1),
      ((f.samplingfrequencyindex & 1) << 7) | (f.channelcount << 3)]);
    adec.configure({ codec: `mp4a.40.${f.audioobjecttype}`, sampleRate: f.samplerate,
      numberOfChannels: f.channelcount, description: asc });
    aconf = key;
  }
  adec.decode(new EncodedAudioChunk({ type: 'key', timestamp: u.ts, data: f.data }));
}
