// Conferences from the configuration (media.conferences): created at start
// with the actor system:config, not duplicated on the next start, completed
// with a source added to the setting; a malformed setting stops the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDir } from './harness.mjs';

test('configured conferences are created once and completed; a bad setting refuses to start', async () => {
  const dataDir = tempDir('mconf');
  const one = 'media.conferences=省应急指挥视频会商=rtsp://127.0.0.1:9/a; 市会商=rtsp://127.0.0.1:9/b';
  let srv = await startServer({ dataDir, media: true, args: ['--set', one] });
  let list;
  const until = async (pred) => {
    for (let i = 0; i < 100; i++) {
      list = (await srv.get('/api/v1/conferences')).json.conferences;
      if (pred(list)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(JSON.stringify(list));
  };
  await until((l) => l.length === 2);
  const prov = list.find((c) => c.name === '省应急指挥视频会商');
  assert.equal(prov.created_by, 'system:config');
  assert.deepEqual(prov.sources.map((s) => s.uri), ['rtsp://127.0.0.1:9/a']);
  assert.equal((await srv.stop()).code, 0);

  // Again, with a second source for the first: nothing duplicated, the source added.
  const two = 'media.conferences=省应急指挥视频会商=rtsp://127.0.0.1:9/a,rtsp://127.0.0.1:9/c; 市会商=rtsp://127.0.0.1:9/b';
  srv = await startServer({ dataDir, media: true, args: ['--set', two] });
  await until((l) => l.length === 2 && l.find((c) => c.name === '省应急指挥视频会商').sources.length === 2);
  assert.equal(list.find((c) => c.name === '市会商').sources.length, 1);
  assert.equal((await srv.stop()).code, 0);

  // A malformed setting: the server says why and does not start.
  await assert.rejects(startServer({ dataDir, media: true, args: ['--set', 'media.conferences=x=http://h/a'] }),
    /media\.conferences: 'http:\/\/h\/a': the scheme must be rtsp/);
  srv.cleanup();
});
