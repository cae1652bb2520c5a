// Every label the console shows comes from this one dictionary: zh-CN (the
// default) and English. t('key', {n: 3}) fills {n}; a missing key shows the key
// itself, so a gap is visible instead of silently blank.
const DICT = {
  'zh-CN': {
    app_title: '联动指挥中心',
    sign_in: '登录', user_name: '用户名', password: '密码', sign_out: '退出',
    bad_credentials: '用户名或密码错误', sign_in_failed: '登录失败',
    too_many_tries: '尝试次数过多，请 {s} 秒后再试',
    conn_connecting: '连接中…', conn_live: '实时', conn_catchup: '补发中…', conn_snapshot: '同步中…',
    conn_down: '连接中断，正在重连', conn_offline: '网络离线', since: '数据停在 {time}', conn_resync: '追赶中…',
    view_desk: '调度台', view_units: '力量', view_alerts: '告警', view_stats: '统计', view_leader: '领导视图',
    queue: '实时警情队列', filter_line: '线路', filter_status: '状态', filter_district: '区域',
    all: '全部', all_open: '全部未结', none_district: '（无区域）',
    col_prio: '级', col_line: '线路', col_title: '警情', col_place: '地点', col_status: '状态',
    col_alarm: '等级', col_age: '接报', col_flags: '提示',
    map: '地图', coords: '坐标', crs: '坐标系', crs_wgs84: 'WGS84', crs_gk: 'CGCS2000 高斯-克吕格', crs_gcj02: 'GCJ-02',
    map_click_hint: '点击地图查看坐标', map_point: '点选位置',
    detail_empty: '在队列或地图上选择一条警情',
    f_line: '线路', f_priority: '优先级', f_status: '状态', f_category: '类别', f_type: '类型',
    f_address: '地点', f_district: '区域', f_coords: '坐标', f_description: '描述', f_source: '来源',
    f_reported: '接报时间', f_version: '版本', f_alarm: '响应等级', f_plan: '预案', f_due: '受理期限',
    f_escalated: '已升级',
    actions: '操作', raise_alarm: '提升至 {n} 级', edit_description: '编辑描述', save: '保存', cancel: '取消',
    tasks: '联动任务', task_agency: '单位', task_need: '需求', task_state: '状态', task_due: '期限',
    task_ack: '签收', links: '关联警情', link_merge: '合并到此', link_related: '相关', link_not_dup: '非重复',
    notes: '备注', note_add: '添加备注', note_placeholder: '备注（N）：所有能看到此警情的调度员都会看到',
    link_parent: '上级', link_child: '下级', link_add: '关联', link_target: '警情编号',
    units_assigned: '已派力量', recommend: '推荐力量', assign: '派遣', assign_kind: '类型',
    no_recommendation: '暂无可用推荐', timeline: '时间线', viewers: '正在查看：{who}',
    conflict: '他人已修改此警情（版本 {v}，{actor}）：{what}。你的修改未保存，请确认后再操作。',
    changed_meanwhile: '你编辑期间此警情已被更新（版本 {v}），保存时将提示冲突。',
    changed_fields: '变更 {f}', nothing_changed: '无字段变化',
    units: '力量看板', unit_id: '编号', unit_agency: '单位', unit_kind: '类型', unit_status: '状态',
    unit_incident: '警情', unit_pos: '位置', unit_pos_at: '定位时间', stale: '定位过期', no_position: '无定位',
    alerts: '升级告警', activity: '实时动态', dismiss: '已知悉', no_alerts: '暂无告警',
    cue_new: '新警情 #{id} {title}', cue_escalated: '警情升级 #{id} {title}',
    cue_overdue: '任务超时 #{id} {agency}', cue_flagged: '力量超时 {unit}',
    stats: '统计', per_hour: '每小时警情（按线路）', intervals: '响应时间（秒）对照目标',
    per_district: '各区警情', per_line: '各线路警情', target: '目标', met: '达标', not_met: '未达标', no_data: '无数据',
    iv_acknowledge: '受理', iv_dispatch: '派警', iv_ambulance_out: '救护车出车', iv_on_scene: '到场',
    refresh: '刷新', within: '{p}% 在目标内', hour_label: '{h}时',
    leader: '城市总览', major: '重大警情', per_district_open: '各区未结警情', open_total: '未结警情', p1_total: '一级警情',
    escalated_total: '已升级', units_busy: '出动力量', conference: '联动视频会议',
    conference_none: '暂无可加入的视频会议',
    conf_src: '信源', conf_st_live: '直播中', conf_st_connecting: '连接中', conf_st_reconnecting: '重连中', conf_st_down: '中断', conf_st_closed: '已结束',
    conf_return: '回传', conf_ret_starting: '启动中', conf_ret_running: '发送中', conf_ret_failed: '失败，正在重试', conf_ret_stopped: '未发送',
    conf_close: '结束会商', conf_close_confirm: '结束会商“{name}”？信源停止拉流，所有观看者断开，录像保留。',
    conf_close_failed: '未能结束会商：{why}', conf_closed: '会商已结束（录像保留）',
    conf_viewers: '观看', conf_watch: '观看', conf_watching: '正在观看', conf_speak: '发言（摄像头+麦克风）', conf_speaking: '正在发言', conf_leave: '离开',
    conf_error: '会议错误', conf_state_idle: '', conf_state_negotiating: '正在建立连接…', conf_state_connected: '已连接',
    conf_state_waiting: '等待信源画面…', conf_state_closed: '连接已关闭',
    conf_mode: '观看方式', conf_mode_hint: 'WebRTC：低延迟；HLS：经 HTTP 分段，延迟数秒，适用于不通 WebRTC 的网络（仅观看）',
    conf_speak_needs_rtc: '发言需要 WebRTC，本浏览器不支持',
    conf_fallback_no_rtc: '本浏览器不支持 WebRTC，已自动改用 HLS 观看（延迟数秒）',
    conf_fallback_timeout: 'WebRTC 在 {s} 秒内未能连通（网络可能不通 WebRTC），已自动改用 HLS 观看（延迟数秒）',
    conf_fallback_failed: 'WebRTC 连接中断（网络路径失效），已自动改用 HLS 观看（延迟数秒）',
    hls_loading: 'HLS：加载中…', hls_playing: 'HLS：播放中', hls_error: 'HLS 错误', hls_retrying: '正在重试',
    hls_404: '分段尚未写出', hls_off: '本中心未开启 HLS（media.hls = 0）',
    shortcuts: '快捷键', shortcuts_text: 'J/K 上下选择 · Enter 打开 · S 推进状态 · A 派遣首个推荐 · E 编辑描述 · N 备注 · F 线路筛选 · 1-5 切换视图 · M 静音 · Esc 关闭 · ? 帮助',
    sound_on: '提示音开', sound_off: '提示音关', sound_blocked: '点击启用提示音', viewing_n: '{n}人查看', dup_flag: '疑重', lang: 'English',
    age_s: '{n} 秒前', age_m: '{n} 分钟前', age_h: '{n} 小时前',
    read_only: '只读：你的角色不能修改警情',
    err: '错误：{code} {detail}',
    line_110: '110 公安', line_119: '119 消防', line_120: '120 急救', line_122: '122 交通', line_other: '其他',
    st_new: '新警情', st_acknowledged: '已受理', st_dispatched: '已派警', st_en_route: '在途', st_on_scene: '到场',
    st_resolved: '已处置', st_closed: '已结案', st_cancelled: '已撤销', st_unfounded: '无效警情',
    ust_available: '待命', ust_dispatched: '已派遣', ust_en_route: '在途', ust_on_scene: '到场',
    ust_returning: '返回', ust_out_of_service: '停用',
    cat_natural_disaster: '自然灾害', cat_accident: '事故灾难', cat_public_health: '公共卫生',
    cat_social_security: '社会安全', cat_other: '其他',
    tst_pending: '待签收', tst_acknowledged: '已签收', tst_overdue: '超时',
    role_dispatcher: '调度员', role_supervisor: '值班长', role_leader: '领导', role_admin: '管理员', role_open: '开放模式',
    ag_110: '公安', ag_119: '消防', ag_120: '急救', ag_122: '交警', ag_gas: '燃气', ag_water: '水务',
    ag_power: '供电', ag_env: '环境监测', ag_sanfang: '三防', ag_12345: '12345',
    k_incident_created: '接报', k_incident_updated: '更新', k_incident_assigned: '派遣', k_incident_alarm_raised: '提升等级',
    k_incident_linked: '关联', k_incident_merged: '合并', k_incident_escalated: '超时升级', k_incident_noted: '备注',
    k_task_acknowledged: '任务签收', k_task_overdue: '任务超时', k_unit_created: '新增力量',
    k_unit_updated: '力量状态', k_unit_flagged: '力量超时',
    kind_fire_engine: '消防车', kind_aerial_ladder: '云梯车', kind_rescue_engine: '抢险救援车', kind_smoke_exhaust: '排烟车',
    kind_hazmat_unit: '危化品处置车', kind_decon_unit: '洗消车', kind_command_vehicle: '指挥车', kind_ambulance: '救护车',
    kind_patrol: '巡逻警车', kind_traffic_police: '交警', kind_emergency_repair: '抢修队', kind_monitoring_unit: '监测车',
    kind_duty_team: '值守组',
    lr_merged_into: '已并入该警情', lr_merged_from: '已并入本警情', lr_child_of: '隶属于', lr_parent_of: '下属',
    lr_likely_duplicate_of: '疑似重复于', lr_likely_duplicated_by: '疑似被重复', lr_duplicate_suspect: '疑似重复',
    lr_related: '相关', lr_not_duplicate: '已确认非重复',
  },
  en: {
    app_title: 'Liandong Command Centre',
    sign_in: 'Sign in', user_name: 'User name', password: 'Password', sign_out: 'Sign out',
    bad_credentials: 'Wrong user name or password', sign_in_failed: 'Sign-in failed',
    too_many_tries: 'Too many tries; try again in {s} s',
    conn_connecting: 'Connecting…', conn_live: 'Live', conn_catchup: 'Catching up…', conn_snapshot: 'Syncing…',
    conn_down: 'Connection lost, reconnecting', conn_offline: 'Network offline', since: 'data as of {time}', conn_resync: 'Catching up…',
    view_desk: 'Dispatch', view_units: 'Units', view_alerts: 'Alerts', view_stats: 'Statistics', view_leader: 'Leadership',
    queue: 'Live incident queue', filter_line: 'Line', filter_status: 'Status', filter_district: 'District',
    all: 'All', all_open: 'All open', none_district: '(no district)',
    col_prio: 'P', col_line: 'Line', col_title: 'Incident', col_place: 'Place', col_status: 'Status',
    col_alarm: 'Lvl', col_age: 'Reported', col_flags: 'Flags',
    map: 'Map', coords: 'Coordinates', crs: 'CRS', crs_wgs84: 'WGS84', crs_gk: 'CGCS2000 Gauss-Krüger', crs_gcj02: 'GCJ-02',
    map_click_hint: 'Click the map for coordinates', map_point: 'Picked point',
    detail_empty: 'Pick an incident in the queue or on the map',
    f_line: 'Line', f_priority: 'Priority', f_status: 'Status', f_category: 'Category', f_type: 'Type',
    f_address: 'Address', f_district: 'District', f_coords: 'Position', f_description: 'Description', f_source: 'Source',
    f_reported: 'Reported', f_version: 'Version', f_alarm: 'Alarm level', f_plan: 'Plan', f_due: 'Ack due',
    f_escalated: 'Escalated',
    actions: 'Actions', raise_alarm: 'Raise to level {n}', edit_description: 'Edit description', save: 'Save', cancel: 'Cancel',
    tasks: 'Linkage tasks', task_agency: 'Agency', task_need: 'Need', task_state: 'State', task_due: 'Due',
    task_ack: 'Acknowledge', links: 'Linked incidents', link_merge: 'Merge here', link_related: 'Related', link_not_dup: 'Not a duplicate',
    notes: 'Notes', note_add: 'Add note', note_placeholder: 'Note (N): everyone who sees this incident sees it',
    link_parent: 'Parent', link_child: 'Child', link_add: 'Link', link_target: 'Incident no.',
    units_assigned: 'Assigned units', recommend: 'Recommended units', assign: 'Assign', assign_kind: 'Kind',
    no_recommendation: 'No unit to recommend', timeline: 'Timeline', viewers: 'Also open: {who}',
    conflict: 'Someone else changed this incident (version {v}, {actor}): {what}. Your change was not saved; check and try again.',
    changed_meanwhile: 'This incident changed while you edit (version {v}); saving will show the conflict.',
    changed_fields: 'changed {f}', nothing_changed: 'no field changed',
    units: 'Unit board', unit_id: 'Unit', unit_agency: 'Agency', unit_kind: 'Kind', unit_status: 'Status',
    unit_incident: 'Incident', unit_pos: 'Position', unit_pos_at: 'Fix time', stale: 'stale fix', no_position: 'no fix',
    alerts: 'Escalation alerts', activity: 'Live activity', dismiss: 'Dismiss', no_alerts: 'No alerts',
    cue_new: 'New incident #{id} {title}', cue_escalated: 'Escalated #{id} {title}',
    cue_overdue: 'Task overdue #{id} {agency}', cue_flagged: 'Unit overdue {unit}',
    stats: 'Statistics', per_hour: 'Incidents per hour (by line)', intervals: 'Response intervals (s) against targets',
    per_district: 'Per district', per_line: 'Per line', target: 'target', met: 'met', not_met: 'missed', no_data: 'no data',
    iv_acknowledge: 'Acknowledge', iv_dispatch: 'Dispatch', iv_ambulance_out: 'Ambulance out', iv_on_scene: 'On scene',
    refresh: 'Refresh', within: '{p}% within target', hour_label: '{h}:00',
    leader: 'City overview', major: 'Major incidents', per_district_open: 'Open incidents per district', open_total: 'Open incidents', p1_total: 'Priority 1',
    escalated_total: 'Escalated', units_busy: 'Units out', conference: 'Linked video conference',
    conference_none: 'No video conference to join',
    conf_src: 'Source', conf_st_live: 'live', conf_st_connecting: 'connecting', conf_st_reconnecting: 'reconnecting', conf_st_down: 'down', conf_st_closed: 'closed',
    conf_return: 'Return feed', conf_ret_starting: 'starting', conf_ret_running: 'sending', conf_ret_failed: 'failed, retrying', conf_ret_stopped: 'not sending',
    conf_close: 'End conference', conf_close_confirm: 'End the conference "{name}"? Its sources stop, every viewer is disconnected, the recordings stay.',
    conf_close_failed: 'Could not end the conference: {why}', conf_closed: 'Conference ended (recordings kept)',
    conf_viewers: 'viewers', conf_watch: 'Watch', conf_watching: 'Watching', conf_speak: 'Speak (camera + microphone)', conf_speaking: 'Speaking', conf_leave: 'Leave',
    conf_error: 'Conference error', conf_state_idle: '', conf_state_negotiating: 'Connecting…', conf_state_connected: 'Connected',
    conf_state_waiting: 'Waiting for the source…', conf_state_closed: 'Closed',
    conf_mode: 'Watch over', conf_mode_hint: 'WebRTC: low latency; HLS: HTTP segments, a few seconds behind, for networks without WebRTC (watching only)',
    conf_speak_needs_rtc: 'Speaking needs WebRTC, which this browser lacks',
    conf_fallback_no_rtc: 'This browser has no WebRTC: watching over HLS instead (a few seconds behind)',
    conf_fallback_timeout: 'WebRTC did not connect within {s} s (the network may block it): watching over HLS instead (a few seconds behind)',
    conf_fallback_failed: 'The WebRTC stream lost its network path: watching over HLS instead (a few seconds behind)',
    hls_loading: 'HLS: loading…', hls_playing: 'HLS: playing', hls_error: 'HLS error', hls_retrying: 'retrying',
    hls_404: 'no segment written yet', hls_off: 'HLS is off on this centre (media.hls = 0)',
    shortcuts: 'Shortcuts', shortcuts_text: 'J/K move · Enter open · S advance status · A assign first recommendation · E edit description · N note · F line filter · 1-5 views · M mute · Esc close · ? help',
    sound_on: 'Sound: on', sound_off: 'Sound: off', sound_blocked: 'Click to enable sound', viewing_n: '{n} viewing', dup_flag: 'dup?', lang: '中文',
    age_s: '{n} s ago', age_m: '{n} min ago', age_h: '{n} h ago',
    read_only: 'Read only: your role cannot change incidents',
    err: 'Error: {code} {detail}',
    line_110: '110 Police', line_119: '119 Fire', line_120: '120 Ambulance', line_122: '122 Traffic', line_other: 'Other',
    st_new: 'New', st_acknowledged: 'Acknowledged', st_dispatched: 'Dispatched', st_en_route: 'En route', st_on_scene: 'On scene',
    st_resolved: 'Resolved', st_closed: 'Closed', st_cancelled: 'Cancelled', st_unfounded: 'Unfounded',
    ust_available: 'Available', ust_dispatched: 'Dispatched', ust_en_route: 'En route', ust_on_scene: 'On scene',
    ust_returning: 'Returning', ust_out_of_service: 'Out of service',
    cat_natural_disaster: 'Natural disaster', cat_accident: 'Accident', cat_public_health: 'Public health',
    cat_social_security: 'Social security', cat_other: 'Other',
    tst_pending: 'Pending', tst_acknowledged: 'Acknowledged', tst_overdue: 'Overdue',
    role_dispatcher: 'Dispatcher', role_supervisor: 'Supervisor', role_leader: 'Leader', role_admin: 'Admin', role_open: 'open mode',
    ag_110: 'Police', ag_119: 'Fire', ag_120: 'Ambulance', ag_122: 'Traffic', ag_gas: 'Gas', ag_water: 'Water',
    ag_power: 'Power', ag_env: 'Environment', ag_sanfang: 'Flood control', ag_12345: '12345',
    k_incident_created: 'Reported', k_incident_updated: 'Updated', k_incident_assigned: 'Assigned', k_incident_alarm_raised: 'Alarm raised',
    k_incident_linked: 'Linked', k_incident_merged: 'Merged', k_incident_escalated: 'Escalated', k_incident_noted: 'Note',
    k_task_acknowledged: 'Task acknowledged', k_task_overdue: 'Task overdue', k_unit_created: 'Unit added',
    k_unit_updated: 'Unit status', k_unit_flagged: 'Unit overdue',
    kind_fire_engine: 'fire engine', kind_aerial_ladder: 'aerial ladder', kind_rescue_engine: 'rescue engine', kind_smoke_exhaust: 'smoke exhaust',
    kind_hazmat_unit: 'hazmat unit', kind_decon_unit: 'decontamination', kind_command_vehicle: 'command vehicle', kind_ambulance: 'ambulance',
    kind_patrol: 'patrol car', kind_traffic_police: 'traffic police', kind_emergency_repair: 'repair crew', kind_monitoring_unit: 'monitoring unit',
    kind_duty_team: 'duty team',
    lr_merged_into: 'merged into it', lr_merged_from: 'merged into this one', lr_child_of: 'part of', lr_parent_of: 'includes',
    lr_likely_duplicate_of: 'likely duplicate of', lr_likely_duplicated_by: 'likely duplicated by', lr_duplicate_suspect: 'likely duplicate',
    lr_related: 'related', lr_not_duplicate: 'not a duplicate',
  },
};

const saved = (() => { try { return localStorage.getItem('liandong.lang'); } catch { return null; } })();
let lang = saved && DICT[saved] ? saved : 'zh-CN';
const listeners = new Set();

export function t(key, vars) {
  const s = DICT[lang][key] ?? DICT['zh-CN'][key] ?? key;
  return vars ? s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? '')) : s;
}

// A label for a code of a known family (line_119, st_new...), or the code itself.
export function label(prefix, code) {
  if (code == null) return '';
  const k = `${prefix}_${String(code).replace(/\./g, '_')}`;
  return DICT[lang][k] ?? DICT['zh-CN'][k] ?? String(code);
}

export function getLang() { return lang; }

export function setLang(next) {
  if (!DICT[next]) return;
  lang = next;
  try { localStorage.setItem('liandong.lang', next); } catch { /* private mode */ }
  document.documentElement.lang = next;
  applyStatic();
  for (const fn of listeners) fn();
}

export function onLangChange(fn) { listeners.add(fn); }

// Fixed labels in the page: data-i18n="key" sets the text, data-i18n-title the tooltip.
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = `${t('app_title')} · Liandong`;
}
