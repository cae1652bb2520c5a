// Recording: the bridge records a live source as MP4 segments (2 s here);
// each finished segment is stored, listed on the conference and on the linked
// incident's history, downloadable over HTTP, and gst-discoverer-1.0 reads the
// downloaded file on its own as H.264 + Opus of the segment's length.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, spawnListening, report } from './harness.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

let src, srv;

before(async () => {
  src = await spawnListening('rtsp-source', RTSP, ['--size', '320x180', '--fps', '15']);
  srv = await startServer({ media: true, args: ['--set', 'media.segment_s=2'] });
});

after(async () => {
  // A clean exit (code 0: under ASan, LeakSanitizer found nothing of ours).
  src.proc.kill('SIGTERM');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

// "Duration: 0:00:02.066000000" -> seconds.
function discoveredSeconds(out) {
  const m = out.match(/Duration: (\d+):(\d+):(\d+\.\d+)/);
  assert.ok(m, out);
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

test('segments are recorded, listed on the incident, downloadable and playable on their own', async () => {
  const inc = (await srv.post('/api/v1/intake/json', report('REC-1'))).json.incident;
  const c = await srv.post('/api/v1/conferences', {
    name: '录制测试', sources: [`rtsp://127.0.0.1:${src.port}/conf`], incidents: [inc.id],
  });
  assert.equal(c.status, 201, c.text);
  const id = c.json.id;

  let list = [];
  const end = Date.now() + 90000;
  while (Date.now() < end && list.length < 4) {
    await new Promise((r) => setTimeout(r, 500));
    list = (await srv.get(`/api/v1/conferences/${id}/recordings`)).json.recordings;
  }
  assert.ok(list.length >= 4, `segments: ${JSON.stringify(list)}`);
  // splitmuxsink cuts at a keyframe (one a second here) so that no segment is longer than
  // media.segment_s (2 s): each lasts 1 or 2 keyframe intervals.
  const durations = list.map((s) => s.duration_ms);
  for (const d of durations) assert.ok(d >= 900 && d <= 2100, durations.join());
  const seg = list[list.length - 3];
  assert.equal(seg.source, 0);
  assert.ok(seg.bytes > 1000, JSON.stringify(seg));
  assert.equal(seg.href, `/api/v1/conferences/${id}/recordings/${seg.id}.mp4`);
  assert.equal(seg.file, undefined); // the server's path is not shown

  // On the incident's timeline, with the link.
  const kinds = (await srv.get(`/api/v1/incidents/${inc.id}/history`)).json.events.map((e) => e.kind);
  assert.ok(kinds.includes('incident.conference_linked'), kinds.join());
  assert.ok(kinds.includes('incident.conference_recorded'), kinds.join());

  // Downloaded, and read on its own by gst-discoverer-1.0.
  const res = await fetch(srv.base + seg.href);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'video/mp4');
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, seg.bytes);
  const file = path.join(srv.dataDir, 'download.mp4');
  writeFileSync(file, body);
  const out = execFileSync('gst-discoverer-1.0', [file], { encoding: 'utf8' });
  assert.match(out, /H\.264/);
  assert.match(out, /Opus/);
  const secs = discoveredSeconds(out);
  // The file's own length is the stored one (to a frame or two: 15 fps).
  assert.ok(Math.abs(secs - seg.duration_ms / 1000) < 0.2, `${secs} s vs ${seg.duration_ms} ms`);

  // Bad paths get clear answers.
  assert.equal((await srv.get(`/api/v1/conferences/${id}/recordings/999999.mp4`)).status, 404);
  assert.equal((await srv.get(`/api/v1/conferences/${id}/recordings/abc`)).status, 404);
  assert.equal((await srv.get(`/api/v1/conferences/77/recordings`)).status, 404);
});

test('HLS for passive viewers: a rolling playlist of H.264 + AAC segments, served; other names refused', async () => {
  const list = (await srv.get('/api/v1/conferences')).json.conferences;
  const conf = list.find((c) => c.name === '录制测试');
  const href = conf.sources[0].hls;
  assert.equal(href, `/api/v1/conferences/${conf.id}/hls/0/playlist.m3u8`);
  let playlist = '';
  const end = Date.now() + 60000;
  while (Date.now() < end) {
    const r = await srv.get(href);
    if (r.status === 200 && (r.text.match(/\.ts/g) || []).length >= 2) {
      assert.equal(r.headers.get('content-type'), 'application/vnd.apple.mpegurl');
      playlist = r.text;
      break;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.match(playlist, /^#EXTM3U/);
  assert.match(playlist, /#EXT-X-TARGETDURATION:/);
  const seg = playlist.split('\n').find((l) => l.endsWith('.ts'));
  assert.match(seg, /^segment\d{5}\.ts$/); // relative: resolved against the playlist's URL
  const res = await fetch(new URL(seg, srv.base + href));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'video/mp2t');
  const file = path.join(srv.dataDir, 'segment.ts');
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const out = execFileSync('gst-discoverer-1.0', [file], { encoding: 'utf8' });
  assert.match(out, /H\.264/);
  assert.match(out, /AAC/);
  for (const bad of ['/hls/0/../../liandong.db', '/hls/0/segment1.ts', '/hls/0/x.m3u8', '/hls/9/playlist.m3u8', '/hls/0/playlist.m3u8/x']) {
    assert.equal((await srv.get(`/api/v1/conferences/${conf.id}${bad}`)).status, 404, bad);
  }
});
