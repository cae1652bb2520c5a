// Closing a conference, and stopping the server, finish the open recording
// segment: it is stored, listed and playable on its own, though shorter than
// media.segment_s (60 s here, so every segment below exists only because the
// close or the shutdown finished it). A closed conference keeps its
// recordings, pulls nothing, refuses new sources, links and viewers, and stays
// closed across a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, spawnListening, report, until, Console } from './harness.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');
const ARGS = ['--set', 'media.segment_s=60'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let src, srv, dataDir;

before(async () => {
  src = await spawnListening('rtsp-source', RTSP, ['--size', '320x180', '--fps', '15']);
  srv = await startServer({ media: true, args: ARGS });
  dataDir = srv.dataDir;
});

after(async () => {
  src.proc.kill('SIGTERM');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

async function liveConference(name, incident) {
  const c = await srv.post('/api/v1/conferences', {
    name, sources: [`rtsp://127.0.0.1:${src.port}/conf`], incidents: [incident],
  });
  assert.equal(c.status, 201, c.text);
  await until(`${name} live`, async () => {
    const g = await srv.get(`/api/v1/conferences/${c.json.id}`);
    return { ok: g.json.sources[0].state === 'live', state: g.json.sources[0].state };
  });
  return c.json.id;
}

// The one stored segment of a conference: fetched over HTTP and read by gst-discoverer-1.0.
async function onlySegment(id) {
  const { recordings } = (await until(`conference ${id}'s segment`, async () => {
    const r = await srv.get(`/api/v1/conferences/${id}/recordings`);
    return { ok: r.json.recordings.length > 0, recordings: r.json.recordings };
  }, 30000));
  assert.equal(recordings.length, 1, JSON.stringify(recordings));
  const seg = recordings[0];
  const res = await fetch(srv.base + seg.href);
  assert.equal(res.status, 200);
  const file = path.join(dataDir, `seg-${id}.mp4`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const out = execFileSync('gst-discoverer-1.0', [file], { encoding: 'utf8' });
  assert.match(out, /H\.264/, `${out}\n${srv.logs.filter((l) => /mod=(conf|media)|level=(warn|error)/.test(l)).slice(-12).join('\n')}`);
  const m = out.match(/Duration: (\d+):(\d+):(\d+\.\d+)/);
  const secs = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  assert.ok(Math.abs(secs - seg.duration_ms / 1000) < 0.2, `${secs} s vs ${seg.duration_ms} ms`);
  return seg;
}

test('closing a conference finishes and stores its open segment; a closed one refuses changes and viewers', async () => {
  const inc = (await srv.post('/api/v1/intake/json', report('CLOSE-1'))).json.incident;
  const id = await liveConference('关闭测试', inc.id);
  // A viewer negotiating when the conference closes is told why.
  const con = await Console.open(srv.port, 0);
  await con.waitFor((f) => f.type === 'welcome');
  con.send({ type: 'rtc.join', conference: id });
  const offer = await con.waitFor((f) => f.type === 'rtc.offer', 30000, 'offer');
  await sleep(2500); // some seconds of media in the open segment
  assert.equal((await srv.get(`/api/v1/conferences/${id}/recordings`)).json.recordings.length, 0,
    'nothing is finished before the close (60 s segments)');

  const closed = await srv.post(`/api/v1/conferences/${id}/close`);
  assert.equal(closed.status, 200, closed.text);
  assert.equal(closed.json.state, 'closed');
  assert.equal(closed.json.changed, true);
  const gone = await con.waitFor((f) => f.type === 'rtc.state' && f.peer === offer.peer && f.state === 'closed', 15000);
  assert.equal(gone.code, 'conference_closed');

  const seg = await onlySegment(id);
  assert.ok(seg.duration_ms >= 1500 && seg.duration_ms < 60000, JSON.stringify(seg));
  const kinds = (await srv.get(`/api/v1/incidents/${inc.id}/history`)).json.events.map((e) => e.kind);
  assert.ok(kinds.includes('incident.conference_recorded'), kinds.join());

  // Closed: the same answer again, unchanged; no new source, link or viewer.
  const again = await srv.post(`/api/v1/conferences/${id}/close`, {});
  assert.equal(again.status, 200, again.text);
  assert.equal(again.json.changed, false);
  assert.equal(again.json.version, closed.json.version);
  assert.equal((await srv.post(`/api/v1/conferences/${id}/close`, { now: true })).status, 422);
  const s = await srv.post(`/api/v1/conferences/${id}/sources`, { uri: `rtsp://127.0.0.1:${src.port}/other` });
  assert.equal(s.status, 409, s.text);
  const inc2 = (await srv.post('/api/v1/intake/json', report('CLOSE-2'))).json.incident;
  const l = await srv.post(`/api/v1/conferences/${id}/incidents`, { incident: inc2.id });
  assert.equal(l.status, 409, l.text);
  con.send({ type: 'rtc.join', conference: id });
  assert.equal((await con.waitFor((f) => f.type === 'rtc.error' && f.conference === id)).code, 'conference_closed');
  const g = (await srv.get(`/api/v1/conferences/${id}`)).json;
  assert.equal(g.state, 'closed');
  assert.equal(g.sources[0].state, 'closed');
  assert.equal((await srv.get(`/api/v1/conferences/424242/close`)).status, 404);
  assert.equal((await srv.get(`/api/v1/conferences/${id}/close`)).status, 405);

  await sleep(1500);
  assert.equal((await srv.get(`/api/v1/conferences/${id}/recordings`)).json.recordings.length, 1,
    'nothing is recorded after the close');
  await con.close();
});

test('SIGTERM finishes and stores the open segment; after the restart it is listed and the closed conference stays closed', async () => {
  const inc = (await srv.post('/api/v1/intake/json', report('STOP-1'))).json.incident;
  const id = await liveConference('停机测试', inc.id);
  await sleep(2500);
  const { code } = await srv.stop('SIGTERM');
  assert.equal(code, 0, srv.logs.slice(-30).join('\n'));
  assert.ok(srv.logs.some((l) => /msg="shutting down".*media=finishing recordings/.test(l)),
    srv.logs.slice(-30).join('\n'));

  srv = await startServer({ dataDir, media: true, args: ARGS });
  const seg = await onlySegment(id);
  assert.ok(seg.duration_ms >= 1500 && seg.duration_ms < 60000, JSON.stringify(seg));
  const list = (await srv.get('/api/v1/conferences')).json.conferences;
  const closed = list.find((c) => c.name === '关闭测试');
  assert.equal(closed.state, 'closed');
  assert.equal(closed.sources[0].state, 'closed', 'a closed conference is not pulled after a restart');
  const open = list.find((c) => c.name === '停机测试');
  assert.equal(open.state, 'open');
});
