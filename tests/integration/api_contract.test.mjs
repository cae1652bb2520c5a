// The OpenAPI document is served, and every path and method it documents is
// routed by the server (never no_route / method_not_allowed): the document
// cannot drift from the code unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, report } from './harness.mjs';

test('openapi.json is served and matches the routes', async () => {
  const srv = await startServer();
  try {
    const created = await srv.post('/api/v1/intake/json', report('OA-1'));
    const id = created.json.incident.id;
    const r = await srv.get('/api/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.json.openapi, '3.0.3');
    let checked = 0;
    for (const [path, item] of Object.entries(r.json.paths)) {
      const url = path.replace('{adapter}', 'json').replace('{id}', String(id));
      for (const method of ['get', 'post', 'patch']) {
        if (!item[method]) continue;
        const res = await srv.request(method.toUpperCase(), url,
          method === 'get' ? {} : { body: {}, headers: { 'if-match': '"1"' } });
        assert.notEqual(res.json?.error?.code, 'no_route', `${method} ${path}`);
        assert.notEqual(res.status, 405, `${method} ${path}`);
        checked++;
      }
    }
    assert.ok(checked >= 10, `checked ${checked} operations`);
  } finally {
    await srv.stop();
    srv.cleanup();
  }
});
