// The linked video conference in the leadership view: the conferences this
// user may see (GET /api/v1/conferences, then live `conference` frames), each
// source's state, and watch / speak / leave. The WebRTC side is the media
// bridge's ConferenceClient (public/conference.js, served as /conference.js
// and loaded at run time, so the console and the bridge's own test page share
// one copy); it is mounted into the panel through leader.js's
// mountConference(), which hands it the console's own WebSocket.
//
// HLS is the fallback for passive viewers (issue #7): chosen by hand (the
// WebRTC / HLS switch, remembered), or taken by itself with a note saying why
// when this browser has no RTCPeerConnection, when the stream fails, or when it
// has not connected RTC_WAIT_MS after the bridge began negotiating. The HLS
// player (src/hls-player.js) is imported only then. Speaking needs WebRTC.
import { mountConference } from './leader.js';
import { get, post, errorText } from './api.js';
import { el } from './ctx.js';
import { t } from './i18n.js';

// A dictionary entry, or undefined when there is none (t() would show the key).
const T = (key) => { const v = t(key); return v === key ? undefined : v; };

// Who may speak into the conference (the server refuses others with not_permitted).
const SPEAKERS = ['leader', 'supervisor', 'admin', 'open'];
// Who may close one (POST .../close; the server refuses others with 403).
const CLOSERS = ['supervisor', 'admin', 'open'];

// A WebRTC stream still negotiating this long (its source live) is given up for HLS.
const RTC_WAIT_MS = 20000;
const MODE_KEY = 'liandong.conf_mode';

const rtcAvailable = () => typeof window.RTCPeerConnection === 'function';

export async function setupConferencePanel(ctx) {
  let ConferenceClient;
  try {
    const url = '/conference.js'; // not bundled: the file the bridge ships, as served
    ({ ConferenceClient } = await import(/* @vite-ignore */ url));
  } catch {
    return; // no bridge served: the panel keeps its "no conference" line
  }
  mountConference((mount, { send }) => {
    const cc = new ConferenceClient(send);
    const conferences = new Map();
    let watching = null; // conference id
    let speaking = false;
    let playing = null; // 'webrtc' | 'hls' while watching
    let hls = null; // the HlsPlayer while playing HLS
    let rtcTimer = null;
    let mode = (() => { try { return localStorage.getItem(MODE_KEY) === 'hls' ? 'hls' : 'webrtc'; } catch { return 'webrtc'; } })();
    const list = el('ul', { class: 'conf-list', id: 'conf-list' });
    const video = el('video', { id: 'conf-video', class: 'conf-video', autoplay: true, muted: true, playsInline: true, controls: true });
    const status = el('div', { id: 'conf-status', class: 'muted' });
    const note = el('div', { id: 'conf-note', class: 'conf-note', hidden: true });
    const modeButtons = ['webrtc', 'hls'].map((m) => el('button', { type: 'button', 'data-mode': m,
      text: m === 'hls' ? 'HLS' : 'WebRTC', onclick: () => choose(m) }));
    const modeBar = el('div', { id: 'conf-mode', class: 'conf-mode', role: 'group' },
      el('span', { class: 'muted', 'data-i18n': 'conf_mode', text: t('conf_mode') }), ...modeButtons);

    const sourceText = (c) => (c.sources || []).map((s) => `${t('conf_src')} ${s.index + 1}: ${(T(`conf_st_${s.state}`) ?? s.state)}${s.code ? ` (${s.code})` : ''}`).join(' · ');
    function render() {
      for (const b of modeButtons) b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
      modeBar.title = t('conf_mode_hint');
      const rows = [...conferences.values()].sort((a, b) => b.id - a.id);
      list.replaceChildren(...(rows.length ? rows.map((c) => {
        const live = (c.sources || []).some((s) => s.state === 'live');
        if (c.state === 'closed') {
          return el('li', { 'data-conference': String(c.id), class: 'closed' },
            el('div', { class: 'conf-name', text: c.name }),
            el('div', { class: 'muted conf-closed', text: t('conf_closed') }));
        }
        return el('li', { 'data-conference': String(c.id), class: live ? 'live' : 'down' },
          el('div', { class: 'conf-name', text: c.name }),
          el('div', { class: 'muted', text: `${sourceText(c)} · ${t('conf_viewers')} ${c.viewers ?? 0}` }),
          c.return_state ? el('div', { class: `muted conf-return ret-${c.return_state}`,
            text: `${t('conf_return')}: ${T(`conf_ret_${c.return_state}`) ?? c.return_state}` +
              (c.return_state === 'failed' && c.return_message ? ` (${c.return_message})` : '') }) : null,
          el('div', { class: 'conf-actions' },
            el('button', { class: 'conf-watch', text: watching === c.id && !speaking ? t('conf_watching') : t('conf_watch'),
              disabled: watching === c.id && !speaking, onclick: () => start(c.id, false) }),
            SPEAKERS.includes(ctx.role)
              ? el('button', { class: 'conf-speak', text: watching === c.id && speaking ? t('conf_speaking') : t('conf_speak'),
                disabled: (watching === c.id && speaking) || !rtcAvailable(), title: rtcAvailable() ? null : t('conf_speak_needs_rtc'),
                onclick: () => start(c.id, true) })
              : null,
            watching === c.id ? el('button', { class: 'conf-leave', text: t('conf_leave'), onclick: stop }) : null,
            CLOSERS.includes(ctx.role)
              ? el('button', { class: 'conf-close', text: t('conf_close'), onclick: () => closeConference(c) })
              : null));
      }) : [el('li', { class: 'muted', text: t('conference_none') })]));
    }
    // End the conference for everyone: its sources stop, its recordings stay.
    async function closeConference(c) {
      if (!window.confirm(t('conf_close_confirm', { name: c.name }))) return;
      const r = await post(`/api/v1/conferences/${c.id}/close`);
      if (!r.ok) { say('conf_close_failed', { why: errorText(r) }); return; }
      conferences.set(c.id, { ...c, ...r.body });
      if (watching === c.id) stop();
      render();
    }
    function say(key, vars) {
      note.textContent = key ? t(key, vars) : '';
      note.hidden = !key;
    }
    function setStatus(text, state) {
      status.textContent = text;
      status.dataset.state = state;
    }

    // Stop whatever plays now, WebRTC or HLS.
    function halt() {
      clearTimeout(rtcTimer);
      rtcTimer = null;
      cc.leave();
      if (hls) hls.stop();
      hls = null;
      playing = null;
      video.srcObject = null;
    }
    async function start(id, publish) {
      halt();
      say(null);
      watching = id;
      speaking = publish;
      render();
      if (!publish && mode === 'hls') return playHls(id);
      if (!rtcAvailable()) {
        if (publish) {
          setStatus(`${t('conf_error')}: ${t('conf_speak_needs_rtc')}`, 'closed');
          return;
        }
        return fallBack('conf_fallback_no_rtc');
      }
      playing = 'webrtc';
      setStatus(t('conf_state_negotiating'), 'negotiating');
      try {
        await cc.join(id, video, { publish });
      } catch (e) {
        setStatus(`${t('conf_error')}: ${e.message || e}`, 'closed');
      }
    }
    // WebRTC did not work out for a passive viewer: HLS, saying why.
    function fallBack(why) {
      if (watching === null || speaking) return;
      const id = watching;
      halt();
      say(why, { s: RTC_WAIT_MS / 1000 });
      playHls(id);
    }
    async function playHls(id) {
      playing = 'hls';
      const c = conferences.get(id);
      const src = c && (c.sources || []).find((s) => s.index === 0);
      if (!src || !src.hls) {
        setStatus(`${t('hls_error')}: ${t('hls_off')}`, 'hls-error');
        return;
      }
      setStatus(t('hls_loading'), 'hls-loading');
      let HlsPlayer;
      try {
        ({ HlsPlayer } = await import('./hls-player.js'));
      } catch (e) {
        setStatus(`${t('hls_error')}: ${e.message || e}`, 'hls-error');
        return;
      }
      if (watching !== id || playing !== 'hls' || hls) return; // left or switched meanwhile
      hls = new HlsPlayer(video, (s) => {
        if (s.state === 'error') {
          const why = s.status === 404 ? t('hls_404') : '';
          setStatus(`${t('hls_error')}: ${s.status ? `HTTP ${s.status} ` : ''}${s.code}${why ? ` (${why})` : ''}${s.message ? ` · ${s.message}` : ''}${s.fatal ? '' : ` · ${t('hls_retrying')}`}`, 'hls-error');
        } else {
          setStatus(t(`hls_${s.state}`), `hls-${s.state}`);
        }
      });
      hls.start(src.hls);
    }
    function stop() {
      halt();
      watching = null;
      speaking = false;
      say(null);
      setStatus('', 'idle');
      render();
    }
    function choose(m) {
      mode = m;
      try { localStorage.setItem(MODE_KEY, m); } catch { /* private mode */ }
      render();
      if (watching !== null && !speaking) start(watching, false);
    }
    cc.onconference = (c) => { conferences.set(c.id, c); render(); };
    cc.onstate = (s) => {
      if (playing !== 'webrtc') return;
      setStatus(T(`conf_state_${s}`) ?? s, s);
      if (s === 'connected' || s === 'idle' || s === 'closed') {
        clearTimeout(rtcTimer);
        rtcTimer = null;
      } else if (rtcTimer === null && !speaking) {
        rtcTimer = setTimeout(rtcOverdue, RTC_WAIT_MS);
      }
    };
    // Not connected RTC_WAIT_MS after the first try (rejoins included): HLS, unless the
    // source itself is not live (then HLS has nothing either; wait on).
    function rtcOverdue() {
      rtcTimer = null;
      if (playing !== 'webrtc' || cc.state === 'connected' || watching === null) return;
      const c = conferences.get(watching);
      const live = c && (c.sources || []).some((x) => x.index === 0 && x.state === 'live');
      if (live) fallBack('conf_fallback_timeout');
      else rtcTimer = setTimeout(rtcOverdue, RTC_WAIT_MS);
    }
    cc.onerror = (e) => {
      if (playing !== 'webrtc') return;
      setStatus(`${t('conf_error')}: ${e.code}${e.message ? ' ' + e.message : ''}`, 'error');
      // The stream lost its network path (ICE failed): a viewer goes on with HLS at once.
      if (e.code === 'ice_failed') fallBack('conf_fallback_failed');
    };
    get('/api/v1/conferences').then((r) => {
      if (!r.ok || !r.body) return;
      for (const c of r.body.conferences || []) if (!conferences.has(c.id)) conferences.set(c.id, c);
      render();
    });
    mount.replaceChildren(modeBar, list, video, note, status);
    render();
    return { onFrame(f) { cc.handle(f); } };
  });
}
