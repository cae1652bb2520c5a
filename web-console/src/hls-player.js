// HLS playback of one conference source into a <video>: the fallback for
// viewers whose network or browser has no WebRTC (issue #7). Loaded on demand
// by the conference panel (a dynamic import), so the console's main bundle
// does not carry it for those who never watch.
//
// The playlist and segments are read, demultiplexed and decoded in
// src/hls-worker.js (why not Media Source Extensions: see there). This side
// writes the decoded frames and sound, each when it is due, into the tracks of
// a MediaStream (Chromium's MediaStreamTrackGenerator) that the video plays as
// its srcObject, and reports the state:
//   onstate({state: 'loading'})                       waiting for the first picture or for data
//   onstate({state: 'playing'})                       time advances
//   onstate({state: 'error', status, code, message, fatal})  retried by the worker unless fatal

// Whether this browser can play the console's HLS.
export function hlsSupported() {
  return typeof Worker === 'function' && typeof MediaStreamTrackGenerator === 'function' &&
    typeof VideoDecoder === 'function';
}

export class HlsPlayer {
  constructor(video, onstate) {
    this.video = video;
    this.onstate = onstate;
    this.worker = null;
    this.writers = null;
    this.state = null;
    this.erred = false;
    this.lastTime = -1;
    this.events = {
      playing: () => { if (!this.erred) this.set({ state: 'playing' }); },
      waiting: () => { if (!this.erred) this.set({ state: 'loading' }); },
      timeupdate: () => {
        const now = this.video.currentTime;
        if (now > this.lastTime && this.lastTime >= 0 && !this.video.paused && !this.erred) this.set({ state: 'playing' });
        this.lastTime = now;
      },
    };
  }

  set(s) {
    if (this.state === s.state && s.state !== 'error') return;
    this.state = s.state;
    if (this.onstate) this.onstate(s);
  }

  // Play the playlist at `url` (the source's `hls` path).
  start(url) {
    this.stop();
    this.set({ state: 'loading' });
    if (!hlsSupported()) {
      const why = typeof VideoDecoder !== 'function' && !window.isSecureContext
        ? 'WebCodecs needs a secure page (HTTPS, or this machine)' : 'no WebCodecs or MediaStreamTrackGenerator in this browser';
      this.set({ state: 'error', status: 0, code: 'unsupported', message: why, fatal: true });
      return;
    }
    const vtrack = new MediaStreamTrackGenerator({ kind: 'video' });
    const atrack = new MediaStreamTrackGenerator({ kind: 'audio' });
    this.writers = { video: vtrack.writable.getWriter(), audio: atrack.writable.getWriter(), tracks: [vtrack, atrack] };
    for (const [k, fn] of Object.entries(this.events)) this.video.addEventListener(k, fn);
    this.video.srcObject = new MediaStream([vtrack, atrack]);
    this.video.play().catch(() => { /* autoplay rules: the user starts it */ });
    const w = new Worker(new URL('./hls-worker.js', import.meta.url), { type: 'module', name: 'hls' });
    this.worker = w;
    w.onmessage = (e) => this.message(e.data);
    w.onerror = (e) => this.set({ state: 'error', status: 0, code: 'worker_error', message: e.message || 'the HLS worker failed', fatal: true });
    w.postMessage({ type: 'start', url: new URL(url, location.href).href });
  }

  message(m) {
    switch (m.type) {
      case 'frame':
      case 'audio': {
        const item = m.type === 'frame' ? m.frame : m.data;
        const writer = this.writers && (m.type === 'frame' ? this.writers.video : this.writers.audio);
        // The writer takes the frame and closes it; one that cannot be written is closed here.
        if (writer) writer.write(item).catch(() => item.close());
        else item.close();
        break;
      }
      case 'ok':
        this.erred = false;
        this.set({ state: this.video.paused || this.video.readyState < 2 ? 'loading' : 'playing' });
        break;
      case 'error':
        this.erred = true;
        this.set({ state: 'error', status: m.status, code: m.code, message: m.message, fatal: m.fatal });
        break;
      default:
        break;
    }
  }

  stop() {
    for (const [k, fn] of Object.entries(this.events)) this.video.removeEventListener(k, fn);
    if (this.worker) {
      this.worker.terminate();
      this.worker = null;
    }
    if (this.writers) {
      for (const t of this.writers.tracks) t.stop();
      this.writers = null;
      this.video.srcObject = null;
    }
    this.state = null;
    this.erred = false;
    this.lastTime = -1;
  }
}
