// conference.js - watch a linked provincial video conference in the browser
// over WebRTC, signalled on the console's own WebSocket (docs/protocol.md,
// "Conferences"). Dependency-free ES module.
//
//   const cc = new ConferenceClient((msg) => ws.send(JSON.stringify(msg)));
//   ws.onmessage = (e) => { const m = JSON.parse(e.data); if (!cc.handle(m)) app(m); };
//   cc.onstate = (s) => ...;   // 'idle' | 'negotiating' | 'connected' | 'waiting' | 'closed'
//   cc.onerror = (e) => ...;   // {code, message} from the server or the browser
//   cc.onconference = (c) => ...; // every conference frame (sources' states, viewers...)
//   await cc.join(conferenceId, videoElement, { publish: false });
//   cc.leave();
//
// With { publish: true } the client also sends the camera and microphone into
// the conference's return feed (it asks getUserMedia; the conference needs a
// return feed). The browser offers that stream and the bridge answers.
//
// The bridge makes the offer (it passes the source's H.264 through, so it
// knows the profile); this client answers. When the source drops, the stream
// stays up and the picture resumes by itself when the source is back; when
// the stream itself ends (the server closed it, ICE failed) the client joins
// again by itself while it is still meant to be watching, with backoff.

export class ConferenceClient {
  constructor(send, { iceServers = [] } = {}) {
    this.send = send;
    this.iceServers = iceServers;
    this.conferences = new Map(); // id -> the newest conference frame's object
    this.conferenceId = null;
    this.source = 0;
    this.video = null;
    this.pc = null;
    this.peer = null;
    this.state = 'idle';
    this.retryMs = 500;
    this.retryTimer = null;
    this.onstate = null;
    this.onerror = null;
    this.onconference = null;
    this.publishing = false;
    this.pubPc = null;
    this.pubPeer = null;
    this.pubState = 'idle';
    this.onpublish = null; // 'negotiating' | 'connected' | 'closed'
  }

  // Start watching source `source` (default 0) of a conference into videoElement.
  async join(conferenceId, videoElement, { publish = false, source = 0 } = {}) {
    this.leave();
    this.conferenceId = Number(conferenceId);
    this.source = source;
    this.video = videoElement;
    this.retryMs = 500;
    this._join();
    if (publish) await this._publish();
  }

  // Camera and microphone into the conference's return feed.
  async _publish() {
    const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pubPc = pc;
    this.publishing = true;
    for (const t of media.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [media] });
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate && this.pubPeer !== null) {
        this.send({ type: 'rtc.ice', peer: this.pubPeer, mline: e.candidate.sdpMLineIndex ?? 0, candidate: e.candidate.candidate });
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    // The offer goes with the candidates gathered so far (the peer id comes with the answer's state).
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') return r();
      const t = setTimeout(r, 2000);
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); r(); } };
    });
    this.send({ type: 'rtc.publish', conference: this.conferenceId, sdp: pc.localDescription.sdp });
  }

  _setPub(s) {
    this.pubState = s;
    if (this.onpublish) this.onpublish(s);
  }

  // Stop watching (the server closes the stream; nothing is rejoined).
  leave() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.peer !== null) this.send({ type: 'rtc.leave', peer: this.peer });
    this._closePc();
    if (this.pubPeer !== null) this.send({ type: 'rtc.leave', peer: this.pubPeer });
    if (this.pubPc) {
      this.pubPc.getSenders().forEach((s) => s.track && s.track.stop());
      this.pubPc.close();
    }
    this.pubPc = null;
    this.pubPeer = null;
    this.publishing = false;
    this.conferenceId = null;
    this._setState('idle');
  }

  // The RTCPeerConnection of the stream (for getStats), or null.
  get peerConnection() { return this.pc; }

  // A frame from the console WebSocket: true when it was one of ours.
  handle(msg) {
    if (!msg || typeof msg.type !== 'string') return false;
    if (msg.type === 'conference') {
      const c = msg.conference;
      this.conferences.set(c.id, c);
      if (this.onconference) this.onconference(c);
      // Waiting for a source that was not live: join as soon as it is.
      if (c.id === this.conferenceId && this.state === 'waiting' && this._sourceLive(c)) {
        clearTimeout(this.retryTimer);
        this._join();
      }
      return true;
    }
    if (!msg.type.startsWith('rtc.')) return false;
    switch (msg.type) {
      case 'rtc.state':
        if (msg.state === 'negotiating' && msg.publish) {
          if (this.publishing && this.pubPeer === null) {
            this.pubPeer = msg.peer;
            this._setPub('negotiating');
          } else this.send({ type: 'rtc.leave', peer: msg.peer });
        } else if (msg.peer !== null && msg.peer === this.pubPeer) {
          if (msg.state === 'connected') this._setPub('connected');
          else if (msg.state === 'closed') {
            if (this.pubPc) this.pubPc.close();
            this.pubPc = null;
            this.pubPeer = null;
            this.publishing = false;
            this._setPub('closed');
          }
        } else if (msg.state === 'negotiating') {
          if (msg.conference === this.conferenceId && this.peer === null) this.peer = msg.peer;
          else this.send({ type: 'rtc.leave', peer: msg.peer }); // a join we no longer want
        } else if (msg.peer === this.peer) {
          if (msg.state === 'connected') {
            this.retryMs = 500;
            this._setState('connected');
          } else if (msg.state === 'closed') {
            this._closePc();
            this._rejoinLater();
          }
        }
        return true;
      case 'rtc.answer':
        if (msg.peer === this.pubPeer && this.pubPc) {
          this.pubPc.setRemoteDescription({ type: 'answer', sdp: msg.sdp })
            .catch((e) => this.onerror && this.onerror({ code: 'browser_error', message: e.message }));
        }
        return true;
      case 'rtc.offer':
        if (msg.peer === this.peer) this._answer(msg).catch((e) => this._fail('browser_error', e.message));
        return true;
      case 'rtc.ice':
        if (msg.peer === this.pubPeer && this.pubPc && msg.candidate) {
          this.pubPc.addIceCandidate({ candidate: msg.candidate, sdpMLineIndex: msg.mline })
            .catch((e) => this.onerror && this.onerror({ code: 'browser_error', message: e.message }));
        } else if (msg.peer === this.peer && this.pc && msg.candidate) {
          this.pc.addIceCandidate({ candidate: msg.candidate, sdpMLineIndex: msg.mline })
            .catch((e) => this._fail('browser_error', e.message));
        }
        return true;
      case 'rtc.error':
        if (this.onerror) this.onerror({ code: msg.code, message: msg.message });
        if (msg.peer === undefined && this.publishing && this.pubPeer === null &&
            (msg.code === 'no_return_feed' || msg.code === 'not_permitted' || msg.code === 'invalid_field')) {
          // The publish was refused; watching goes on.
          if (this.pubPc) this.pubPc.close();
          this.pubPc = null;
          this.publishing = false;
          this._setPub('closed');
          return true;
        }
        if (msg.peer === undefined && msg.conference === this.conferenceId) {
          // The join itself was refused: wait for the source when it is not live, else give up.
          if (msg.code === 'source_not_live' || msg.code === 'busy') this._rejoinLater();
          else this._setState('closed');
        }
        return true;
      default:
        return true;
    }
  }

  _sourceLive(c) {
    const s = (c.sources || []).find((x) => x.index === this.source);
    return s && s.state === 'live';
  }

  _join() {
    if (this.conferenceId === null) return;
    const c = this.conferences.get(this.conferenceId);
    if (c && !this._sourceLive(c)) {
      this._setState('waiting');
      return;
    }
    this.peer = null;
    this._setState('negotiating');
    this.send({ type: 'rtc.join', conference: this.conferenceId, source: this.source });
  }

  _rejoinLater() {
    this.peer = null;
    if (this.conferenceId === null) return;
    this._setState('waiting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._join(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 10000);
  }

  async _answer(msg) {
    this._closePc(false);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    this.pc = pc;
    const peer = msg.peer;
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate && this.peer === peer) {
        this.send({ type: 'rtc.ice', peer, mline: e.candidate.sdpMLineIndex ?? 0, candidate: e.candidate.candidate });
      }
    };
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      if (this.video && this.video.srcObject !== stream) {
        this.video.srcObject = stream;
        this.video.play().catch(() => { /* autoplay rules: the user starts it */ });
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.pc && pc.connectionState === 'failed') this._fail('ice_failed', 'the stream lost its network path');
    };
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (this.peer === peer) this.send({ type: 'rtc.answer', peer, sdp: pc.localDescription.sdp });
  }

  _fail(code, message) {
    if (this.onerror) this.onerror({ code, message });
    if (this.peer !== null) this.send({ type: 'rtc.leave', peer: this.peer });
    this._closePc();
    this._rejoinLater();
  }

  _closePc(clearPeer = true) {
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.onconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
    }
    if (clearPeer) this.peer = null;
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    if (this.onstate) this.onstate(s);
  }
}
