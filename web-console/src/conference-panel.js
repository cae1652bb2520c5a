// The linked video conference in the leadership view: the conferences this
// user may see (GET /api/v1/conferences, then live `conference` frames), each
// source's state, and watch / speak / leave. The WebRTC side is the media
// bridge's ConferenceClient (public/conference.js, served as /conference.js
// and loaded at run time, so the console and the bridge's own test page share
// one copy); it is mounted into the panel through leader.js's
// mountConference(), which hands it the console's own WebSocket.
import { mountConference } from './leader.js';
import { get } from './api.js';
import { el } from './ctx.js';
import { t } from './i18n.js';

// A dictionary entry, or undefined when there is none (t() would show the key).
const T = (key) => { const v = t(key); return v === key ? undefined : v; };

// Who may speak into the conference (the server refuses others with not_permitted).
const SPEAKERS = ['leader', 'supervisor', 'admin', 'open'];

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
    const list = el('ul', { class: 'conf-list', id: 'conf-list' });
    const video = el('video', { id: 'conf-video', class: 'conf-video', autoplay: true, muted: true, playsInline: true, controls: true });
    const status = el('div', { id: 'conf-status', class: 'muted' });

    const sourceText = (c) => (c.sources || []).map((s) => `${t('conf_src')} ${s.index + 1}: ${(T(`conf_st_${s.state}`) ?? s.state)}${s.code ? ` (${s.code})` : ''}`).join(' · ');
    function render() {
      const rows = [...conferences.values()].sort((a, b) => b.id - a.id);
      list.replaceChildren(...(rows.length ? rows.map((c) => {
        const live = (c.sources || []).some((s) => s.state === 'live');
        return el('li', { 'data-conference': String(c.id), class: live ? 'live' : 'down' },
          el('div', { class: 'conf-name', text: c.name }),
          el('div', { class: 'muted', text: `${sourceText(c)} · ${t('conf_viewers')} ${c.viewers ?? 0}` }),
          el('div', { class: 'conf-actions' },
            el('button', { class: 'conf-watch', text: watching === c.id && !speaking ? t('conf_watching') : t('conf_watch'),
              disabled: watching === c.id && !speaking, onclick: () => start(c.id, false) }),
            SPEAKERS.includes(ctx.role)
              ? el('button', { class: 'conf-speak', text: watching === c.id && speaking ? t('conf_speaking') : t('conf_speak'),
                disabled: watching === c.id && speaking, onclick: () => start(c.id, true) })
              : null,
            watching === c.id ? el('button', { class: 'conf-leave', text: t('conf_leave'), onclick: stop }) : null));
      }) : [el('li', { class: 'muted', text: t('conference_none') })]));
    }
    async function start(id, publish) {
      watching = id;
      speaking = publish;
      status.textContent = t('conf_state_negotiating');
      render();
      try {
        await cc.join(id, video, { publish });
      } catch (e) {
        status.textContent = `${t('conf_error')}: ${e.message || e}`;
      }
    }
    function stop() {
      cc.leave();
      watching = null;
      speaking = false;
      video.srcObject = null;
      status.textContent = '';
      render();
    }
    cc.onconference = (c) => { conferences.set(c.id, c); render(); };
    cc.onstate = (s) => { status.textContent = T(`conf_state_${s}`) ?? s; status.dataset.state = s; };
    cc.onerror = (e) => { status.textContent = `${t('conf_error')}: ${e.code}${e.message ? ' ' + e.message : ''}`; };
    get('/api/v1/conferences').then((r) => {
      if (!r.ok || !r.body) return;
      for (const c of r.body.conferences || []) if (!conferences.has(c.id)) conferences.set(c.id, c);
      render();
    });
    mount.replaceChildren(list, video, status);
    render();
    return { onFrame(f) { cc.handle(f); } };
  });
}
