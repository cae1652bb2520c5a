// Liandong dispatcher console (core view): a live queue of open incidents fed
// by the WebSocket hub. It says hello with the last seq it applied, so after a
// network cut it resumes exactly where it was, without a reload.
const LINE_NAMES = { 110: '110 公安', 119: '119 消防', 120: '120 急救', 122: '122 交通', other: '其他' };
const STATUS_NAMES = {
  new: '新警情', acknowledged: '已受理', dispatched: '已派警', en_route: '在途', on_scene: '到场',
  resolved: '已处置', closed: '已结案', cancelled: '已撤销', unfounded: '无效警情',
};
const NEXT_STATUS = { new: 'acknowledged', acknowledged: 'dispatched', dispatched: 'en_route',
  en_route: 'on_scene', on_scene: 'resolved', resolved: 'closed' };
const FINAL = new Set(['resolved', 'closed', 'cancelled', 'unfounded']);

const state = { seq: 0, incidents: new Map(), selected: null, ws: null, retry: 0, fresh: new Set() };
const $ = (id) => document.getElementById(id);

function setConn(kind, text) {
  const el = $('conn');
  el.className = `conn conn-${kind}`;
  el.textContent = text;
}

function log(text) { $('log').textContent = text; }

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/ws`, 'liandong.v1');
  state.ws = ws;
  setConn('sync', '连接中…');
  ws.onopen = () => {
    state.retry = 0;
    ws.send(JSON.stringify({ type: 'hello', last_seq: state.seq }));
  };
  ws.onmessage = (m) => onFrame(JSON.parse(m.data));
  ws.onclose = async (ev) => {
    setConn('down', '连接中断，正在重连');
    // 1008: the session ended or the user was disabled; a refused handshake closes with 1006.
    if (ev.code === 1008 || ev.code === 1006) {
      const res = await fetch('/api/v1/session').catch(() => null);
      if (res && res.status === 401) { location.reload(); return; }
    }
    const delay = Math.min(10000, 500 * 2 ** state.retry++);
    setTimeout(connect, delay);
  };
}

function onFrame(f) {
  switch (f.type) {
    case 'welcome':
      setConn(f.mode === 'resume' ? 'sync' : 'sync', f.mode === 'resume' ? '补发中…' : '同步中…');
      if (f.mode === 'resume' && f.server_seq === state.seq) setConn('up', '实时');
      break;
    case 'snapshot':
      state.incidents.clear();
      for (const inc of f.incidents) state.incidents.set(inc.id, inc);
      state.seq = f.seq;
      setConn('up', '实时');
      render();
      break;
    case 'event':
      if (f.seq <= state.seq) return; // already applied
      state.seq = f.seq;
      apply(f.incident);
      setConn('up', '实时');
      render();
      break;
    case 'resync':
      setConn('sync', '追赶中…');
      log(`服务器要求重新同步（${f.reason}）`);
      break;
    case 'error':
      log(`错误：${f.code} ${f.message}`);
      break;
    default:
      break;
  }
}

function apply(inc) {
  if (FINAL.has(inc.status)) state.incidents.delete(inc.id);
  else state.incidents.set(inc.id, inc);
  state.fresh.add(inc.id);
  if (state.selected === inc.id) showDetail(inc.id, inc);
}

function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} 秒前`;
  if (s < 3600) return `${Math.floor(s / 60)} 分钟前`;
  return `${Math.floor(s / 3600)} 小时前`;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    td.appendChild(span);
  } else {
    td.textContent = text;
  }
  tr.appendChild(td);
}

function render() {
  const filter = $('filter-line').value;
  const list = [...state.incidents.values()]
    .filter((i) => !filter || i.line === filter)
    .sort((a, b) => a.priority - b.priority || Date.parse(a.reported_at) - Date.parse(b.reported_at));
  const body = document.querySelector('#queue tbody');
  body.replaceChildren();
  for (const inc of list) {
    const tr = document.createElement('tr');
    tr.dataset.id = inc.id;
    if (state.fresh.has(inc.id)) tr.classList.add('fresh');
    if (state.selected === inc.id) tr.classList.add('selected');
    cell(tr, `P${inc.priority}`, `prio prio-${inc.priority}`);
    cell(tr, LINE_NAMES[inc.line] || inc.line, 'line');
    cell(tr, inc.title);
    cell(tr, inc.address || '');
    cell(tr, STATUS_NAMES[inc.status] || inc.status);
    cell(tr, age(inc.reported_at));
    tr.addEventListener('click', () => showDetail(inc.id));
    body.appendChild(tr);
  }
  state.fresh.clear();
  $('queue-count').textContent = `(${list.length})`;
  $('seq').textContent = `seq ${state.seq}`;
  const counts = $('counts');
  counts.replaceChildren();
  for (const line of ['110', '119', '120', '122']) {
    const n = [...state.incidents.values()].filter((i) => i.line === line).length;
    const span = document.createElement('span');
    span.className = 'count';
    span.textContent = `${LINE_NAMES[line]} ${n}`;
    counts.appendChild(span);
  }
}

async function showDetail(id, known) {
  state.selected = id;
  const inc = known || state.incidents.get(id);
  if (!inc) return;
  $('detail').hidden = false;
  $('detail-title').textContent = `#${inc.id} ${inc.title}`;
  const dl = $('detail-fields');
  dl.replaceChildren();
  const fields = [['线路', LINE_NAMES[inc.line]], ['优先级', `P${inc.priority}`],
    ['状态', STATUS_NAMES[inc.status]], ['类别', inc.category], ['类型', inc.type || ''],
    ['地点', inc.address || ''], ['坐标', inc.lon == null ? '' : `${inc.lon}, ${inc.lat} (WGS84)`],
    ['描述', inc.description || ''], ['来源', `${inc.source} ${inc.ext_ref || ''}`],
    ['版本', String(inc.version)]];
  for (const [k, v] of fields) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
  const actions = $('detail-actions');
  actions.replaceChildren();
  const next = NEXT_STATUS[inc.status];
  if (next) {
    const b = document.createElement('button');
    b.textContent = `→ ${STATUS_NAMES[next]}`;
    b.addEventListener('click', () => patch(inc, { status: next }));
    actions.appendChild(b);
  }
  const history = $('detail-history');
  history.replaceChildren();
  const res = await fetch(`/api/v1/incidents/${id}/history`);
  if (res.ok) {
    for (const ev of (await res.json()).events) {
      const li = document.createElement('li');
      const what = ev.kind === 'incident.created' ? '接报' : `变更 ${(ev.changed || []).join(', ')}`;
      li.textContent = `${new Date(ev.ts).toLocaleTimeString('zh-CN')} ${what} · ${ev.actor}`;
      history.appendChild(li);
    }
  }
  render();
}

async function patch(inc, change) {
  $('detail-msg').textContent = '';
  const res = await fetch(`/api/v1/incidents/${inc.id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', 'if-match': `"${inc.version}"` },
    body: JSON.stringify(change),
  });
  const body = await res.json();
  if (res.status === 412) {
    // Never a silent overwrite: show what the other dispatcher did.
    $('detail-msg').textContent = `他人已修改此警情（版本 ${body.current.version}，状态 ${STATUS_NAMES[body.current.status]}），请确认后再操作。`;
    showDetail(inc.id, body.current);
  } else if (!res.ok) {
    $('detail-msg').textContent = `${body.error.code}: ${body.error.detail || body.error.message}`;
  }
}

const ROLE_NAMES = { dispatcher: '调度员', supervisor: '值班长', leader: '领导', admin: '管理员' };

// Sign-in: the session is an HttpOnly cookie the page never sees; /api/v1/session
// says who is signed in (404 when the centre runs without sign-in).
async function start() {
  const res = await fetch('/api/v1/session');
  if (res.status === 401) {
    $('sign-in').hidden = false;
    $('main').hidden = true;
    $('sign-in-name').focus();
    return;
  }
  if (res.ok) {
    const { user } = await res.json();
    $('who-name').textContent = `${user.display}（${ROLE_NAMES[user.role] || user.role}${user.agency ? ' ' + user.agency : ''}）`;
    $('who').hidden = false;
  }
  $('sign-in').hidden = true;
  $('main').hidden = false;
  connect();
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/api/v1/session', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: $('sign-in-name').value, password: $('sign-in-password').value }),
  });
  $('sign-in-password').value = '';
  if (res.ok) { $('sign-in-msg').textContent = ''; start(); return; }
  const body = await res.json().catch(() => ({}));
  $('sign-in-msg').textContent = res.status === 429
    ? `尝试次数过多，请 ${res.headers.get('retry-after')} 秒后再试`
    : (body.error && body.error.code === 'bad_credentials' ? '用户名或密码错误' : '登录失败');
});

$('sign-out').addEventListener('click', async () => {
  await fetch('/api/v1/session', { method: 'DELETE' });
  location.reload();
});

$('filter-line').addEventListener('change', render);
setInterval(render, 15000); // keep the ages current
start();
