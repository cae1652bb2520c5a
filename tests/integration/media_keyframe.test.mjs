// Keyframes on request: the local source makes a keyframe only every 30 s by
// itself, and offers RTCP PLI in its SDP. A viewer joining asks the bridge,
// the bridge asks the source (rtspsrc sends the PLI), and the source's
// encoder logs the request: a late joiner has its picture in a frame, not in
// up to 30 s. Nobody joining, nothing is asked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, spawnListening, until, Console } from './harness.mjs';

const RTSP = process.env.LIANDONG_RTSP_SOURCE;
if (!RTSP) throw new Error('LIANDONG_RTSP_SOURCE is not set (run through ctest)');

let src, srv;

before(async () => {
  src = await spawnListening('rtsp-source', RTSP, ['--size', '320x180', '--fps', '15', '--key-int', '30']);
  srv = await startServer({ media: true });
});

after(async () => {
  src.proc.kill('SIGTERM');
  const { code } = await srv.stop();
  srv.cleanup();
  assert.equal(code, 0, srv.logs.slice(-40).join('\n'));
});

const asked = () => src.logs.filter((l) => /msg="keyframe requested"/.test(l)).length;

test('a joining viewer gets the source asked for a keyframe (RTCP PLI)', async () => {
  const c = await srv.post('/api/v1/conferences', { name: '关键帧', sources: [`rtsp://127.0.0.1:${src.port}/conf`] });
  assert.equal(c.status, 201, c.text);
  const id = c.json.id;
  await until('live', async () => {
    const g = (await srv.get(`/api/v1/conferences/${id}`)).json;
    return { ok: g.sources[0].state === 'live', state: g.sources[0].state };
  });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(asked(), 0, 'nobody joined: nothing asked');

  const con = await Console.open(srv.port, 0);
  await con.waitFor((f) => f.type === 'welcome');
  con.send({ type: 'rtc.join', conference: id });
  await con.waitFor((f) => f.type === 'rtc.offer', 30000, 'offer');
  await until('the source asked for a keyframe', async () => ({ ok: asked() >= 1, logs: src.logs.slice(-5) }), 15000);
  const m = await srv.metrics();
  assert.ok(m.liandong_media_keyframe_requests_total >= 1, JSON.stringify(m));
  await con.close();
});
