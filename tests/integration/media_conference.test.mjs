// Conferences without a browser: the real server with the media bridge, fed by
// the local RTSP source (liandong-rtsp-source, a test pattern and a tone).
// REST (create, link, add a source, bad input), the source's state pushed to
// consoles, an unreachable source going down, and the signalling's bad input
// over a raw console WebSocket: an answer without H.264, a viewer that
// vanishes mid-negotiation, peers of other consoles.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, spawnListening, report, Console } from './harness.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

let src, srv, uri;

export async function startSource(port = 0) {
  return spawnListening('rtsp-source', RTSP, ['--port', String(port), '--size', '640x360', '--fps', '15']);
}

// Poll GET until pred(conference) holds (the state is pushed too; polling keeps the test simple).
async function waitConf(id, pred, what, ms = 60000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = (await srv.get(`/api/v1/conferences/${id}`)).json;
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

before(async () => {
  src = await startSource();
  uri = `rtsp://127.0.0.1:${src.port}/conf`;
  srv = await startServer({ media: true, args: ['--set', 'media.backoff_max_ms=1000'] });
});

after(async () => {
  // A clean exit (code 0: under ASan, LeakSanitizer found nothing of ours).
  src.proc.kill('SIGTERM');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

test('bad input is refused with a clear code and stores nothing', async () => {
  const cases = [
    [{ name: 'x', sources: ['http://example.org/a'] }, 422, 'invalid_field', /scheme/],
    [{ name: 'x', sources: ['rtsp://host:99999/a'] }, 422, 'invalid_field', /port/],
    [{ name: 'x', sources: ['rtsp://host/a b'] }, 422, 'invalid_field', /spaces/],
    [{ name: 'x', sources: [] }, 422, 'invalid_field', /sources/],
    [{ sources: [uri] }, 422, 'missing_field', /name/],
    [{ name: 'x', sources: [uri], incidents: ['7'] }, 422, 'invalid_field', /incident/],
    [{ name: 'x', sources: [uri], colour: 'red' }, 422, 'invalid_field', /colour/],
    [{ name: 'x', sources: [uri], incidents: [999999] }, 404, 'not_found', /999999/],
  ];
  for (const [body, status, code, msg] of cases) {
    const r = await srv.post('/api/v1/conferences', body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.equal(r.json.error.code, code, JSON.stringify(body));
    assert.match(r.json.error.message + ' ' + (r.json.error.detail || ''), msg);
  }
  assert.deepEqual((await srv.get('/api/v1/conferences')).json.conferences, []);
  assert.equal((await srv.get('/api/v1/conferences/1')).status, 404);
});

test('a conference is created, linked to an incident (on its history), and its source goes live', async () => {
  const inc = (await srv.post('/api/v1/intake/json', report('MC-1'))).json.incident;
  const con = await Console.open(srv.port, 0);
  await con.waitFor((f) => f.type === 'snapshot'); // the events below come after the snapshot's seq
  const r = await srv.post('/api/v1/conferences', { name: '省应急视频会商', sources: [uri], incidents: [inc.id] });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers.get('location'), `/api/v1/conferences/${r.json.id}`);
  assert.equal(r.json.name, '省应急视频会商');
  assert.deepEqual(r.json.incidents, [inc.id]);
  assert.equal(r.json.scope, '119');
  assert.equal(r.json.sources[0].uri, uri);
  const id = r.json.id;

  // The creation and the link are journaled with their actor, the link on the incident too.
  const created = await con.waitFor((f) => f.type === 'event' && f.kind === 'conference.created', 10000);
  assert.match(created.actor, /^console@/);
  const hist = (await srv.get(`/api/v1/incidents/${inc.id}/history`)).json.events;
  const link = hist.find((e) => e.kind === 'incident.conference_linked');
  assert.ok(link, JSON.stringify(hist.map((e) => e.kind)));
  assert.equal(link.conference.id, id);
  assert.equal(link.conference.name, '省应急视频会商');

  // The source's state reaches the console as a conference frame, and REST shows it.
  const live = await con.waitFor((f) => f.type === 'conference' && f.conference.id === id &&
    f.conference.sources[0].state === 'live', 60000, 'the source live');
  assert.equal(live.conference.sources[0].code, null);
  await waitConf(id, (c) => c.sources[0].state === 'live', 'live over REST');

  // The same name again is a conflict; linking twice changes nothing; a second source is added.
  const dup = await srv.post('/api/v1/conferences', { name: '省应急视频会商', sources: [uri] });
  assert.equal(dup.status, 409);
  assert.equal(dup.json.error.code, 'conflict');
  const again = await srv.post(`/api/v1/conferences/${id}/incidents`, { incident: inc.id });
  assert.equal(again.status, 200);
  assert.equal(again.json.changed, false);
  const bad = await srv.post(`/api/v1/conferences/${id}/sources`, { uri: 'rtsp://' });
  assert.equal(bad.status, 422);
  await con.close();
});

test('an unreachable source is reported down with a reason; the other conference stays live', async () => {
  // A port nobody listens on: take one from a source we stop at once.
  const gone = await startSource();
  gone.proc.kill('SIGKILL');
  await new Promise((r) => gone.proc.on('exit', r));
  const r = await srv.post('/api/v1/conferences', { name: 'unreachable', sources: [`rtsp://127.0.0.1:${gone.port}/conf`] });
  assert.equal(r.status, 201);
  const down = await waitConf(r.json.id, (c) => c.sources[0].state === 'down', 'down');
  assert.equal(down.sources[0].code, 'unreachable');
  assert.ok(down.sources[0].message.length > 0);
  const list = (await srv.get('/api/v1/conferences')).json.conferences;
  const first = list.find((c) => c.name === '省应急视频会商');
  assert.equal(first.sources[0].state, 'live');
  // Joining it is refused with source_not_live, on the console that asked.
  const con = await Console.open(srv.port, 0);
  await con.waitFor((f) => f.type === 'welcome');
  con.send({ type: 'rtc.join', conference: r.json.id });
  const err = await con.waitFor((f) => f.type === 'rtc.error', 20000);
  assert.equal(err.code, 'source_not_live');
  await con.close();
});

test('signalling: bad messages, an answer without H.264, a viewer vanishing mid-negotiation', async () => {
  const list = (await srv.get('/api/v1/conferences')).json.conferences;
  const id = list.find((c) => c.name === '省应急视频会商').id;
  const a = await Console.open(srv.port, 0);
  const b = await Console.open(srv.port, 0);
  await a.waitFor((f) => f.type === 'welcome');
  await b.waitFor((f) => f.type === 'welcome');

  a.send({ type: 'rtc.join', conference: 'one' });
  assert.equal((await a.waitFor((f) => f.type === 'rtc.error')).code, 'invalid_field');
  a.send({ type: 'rtc.join', conference: 424242 });
  assert.equal((await a.waitFor((f) => f.type === 'rtc.error' && f.code === 'not_found')).conference, 424242);
  a.send({ type: 'rtc.answer', peer: 99, sdp: 'v=0' });
  await a.waitFor((f) => f.type === 'rtc.error' && f.code === 'unknown_peer');

  // A's offer: H.264 (the source's profile) and Opus, sent only.
  a.send({ type: 'rtc.join', conference: id });
  const offerA = await a.waitFor((f) => f.type === 'rtc.offer', 30000, 'offer');
  assert.match(offerA.sdp, /H264\/90000/);
  assert.match(offerA.sdp, /profile-level-id=42/);
  assert.match(offerA.sdp, /OPUS\/48000\/2/i);
  assert.match(offerA.sdp, /a=sendonly/);
  // B may not answer A's peer.
  b.send({ type: 'rtc.answer', peer: offerA.peer, sdp: 'v=0' });
  await b.waitFor((f) => f.type === 'rtc.error' && f.code === 'unknown_peer');

  // B joins, then vanishes mid-negotiation: its peer is closed, A's carries on.
  b.send({ type: 'rtc.join', conference: id });
  await b.waitFor((f) => f.type === 'rtc.offer', 30000, 'offer B');
  assert.equal((await srv.get(`/api/v1/conferences/${id}`)).json.viewers, 2);
  await b.close();
  await waitConf(id, (c) => c.viewers === 1, 'B gone', 20000);

  // A answers without H.264: a clear error and the peer is closed.
  const vp8 = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' +
    'm=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:100 VP8/90000\r\n';
  a.send({ type: 'rtc.answer', peer: offerA.peer, sdp: vp8 });
  const e = await a.waitFor((f) => f.type === 'rtc.error' && f.peer === offerA.peer, 20000);
  assert.equal(e.code, 'no_h264');
  await a.waitFor((f) => f.type === 'rtc.state' && f.peer === offerA.peer && f.state === 'closed');
  await waitConf(id, (c) => c.viewers === 0, 'no viewers', 20000);
  const c = (await srv.get(`/api/v1/conferences/${id}`)).json;
  assert.equal(c.sources[0].state, 'live');
  await a.close();
});

test('a source in a codec the bridge cannot pass through (VP8) is down with unsupported_codec; others carry on', async () => {
  const vp8 = await spawnListening('rtsp-source', RTSP, ['--size', '320x180', '--fps', '15', '--codec', 'vp8']);
  try {
    const r = await srv.post('/api/v1/conferences', { name: 'vp8', sources: [`rtsp://127.0.0.1:${vp8.port}/conf`] });
    assert.equal(r.status, 201);
    const down = await waitConf(r.json.id, (c) => c.sources[0].state === 'down', 'down');
    assert.equal(down.sources[0].code, 'unsupported_codec');
    assert.match(down.sources[0].message, /VP8/);
    const con = await Console.open(srv.port, 0);
    await con.waitFor((f) => f.type === 'welcome');
    con.send({ type: 'rtc.join', conference: r.json.id });
    assert.equal((await con.waitFor((f) => f.type === 'rtc.error', 20000)).code, 'source_not_live');
    await con.close();
    const list = (await srv.get('/api/v1/conferences')).json.conferences;
    assert.equal(list.find((c) => c.name === '省应急视频会商').sources[0].state, 'live');
  } finally {
    vp8.proc.kill('SIGTERM');
  }
});
