// REST calls to the centre (same origin; the session is an HttpOnly cookie).
// Every answer comes back as {status, ok, body}; errors keep the server's
// stable code so the views can say what happened.
export async function api(method, path, { body, version } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (version !== undefined) headers['if-match'] = `"${version}"`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    return { status: 0, ok: false, body: { error: { code: 'network', message: String(e), detail: '' } } };
  }
  let json = null;
  try { json = await res.json(); } catch { /* empty or not JSON */ }
  return { status: res.status, ok: res.ok, body: json, headers: res.headers };
}

export const get = (path) => api('GET', path);
export const post = (path, body, version) => api('POST', path, { body, version });
export const patch = (path, body, version) => api('PATCH', path, { body, version });

export function errorText(r) {
  const e = r.body && r.body.error;
  return e ? `${e.code}${e.detail ? ': ' + e.detail : e.message ? ': ' + e.message : ''}` : `HTTP ${r.status}`;
}
