// Language: the page's own words (English / 中文) and the protocol's code labels, which
// the receiver serves from facepush.protocol.codes at /dashboard/labels.json.

const WORDS = {
  en: {
    title: "Access dashboard",
    stat_recognitions: "Records",
    stat_alarms: "Alarm reports",
    stat_devices: "Terminals",
    refused_title: "Access refused",
    refused_text:
      "The receiver refused this dashboard's token: it is missing or wrong. " +
      "Open the dashboard as /?token=YOUR_TOKEN, or enter the token here.",
    token: "Token",
    open: "Open",
    alarms_open: "Open alarms",
    alarms_recent: "Recently cleared",
    no_alarms: "No open alarms.",
    feed: "Live feed",
    feed_empty: "Waiting for records…",
    pause: "Pause",
    resume: "Resume",
    pending: "{n} new while paused",
    terminals: "Terminals",
    no_terminals: "No terminal has pushed yet, and none is managed.",
    serial: "Serial",
    state: "State",
    last_seen: "Last seen",
    today: "Today",
    online: "online",
    silent: "silent",
    replaying: "replaying backlog",
    offline: "offline",
    clock_unknown: "clock not read yet",
    repaired: "{n} repaired",
    repaired_title: "Records only this terminal's history had: the receiver found them by reconciliation",
    pushes_elsewhere: "pushes to {dest}, not to this receiver",
    ago: "{t} ago",
    search: "Search records",
    terminal: "Terminal",
    person: "Person (user ID)",
    type: "Type",
    any: "any",
    recognition: "recognition",
    alarm: "alarm",
    passage: "Passage",
    pass: "PASS",
    deny: "DENY",
    from: "From",
    until: "Until",
    search_btn: "Search",
    reset: "Reset",
    export: "Export CSV",
    time: "Time",
    who_what: "Person / alarm",
    details: "Details",
    load_more: "Load more",
    results: "{n} records shown",
    results_more: "{n} records shown, more available",
    raw: "Raw record",
    late: "LATE",
    late_title: "Arrived {t} after it happened (backlog)",
    unknown_person: "unknown person",
    score: "score",
    temperature: "temperature",
    raised: "raised",
    handled: "last report",
    no_photo: "no photo",
    conn_live: "live",
    conn_connecting: "connecting…",
    conn_reconnecting: "reconnecting…",
    conn_refused: "refused",
    error: "Error: {msg}",
    f_user_type: "User type",
    f_user_id: "User ID",
    f_recognitionType: "Recognition",
    f_entry_mode: "Entry mode",
    f_mode: "Verification mode",
    f_abnormal_type: "Abnormal",
    f_mask: "Mask",
    f_recognizeScore: "Score",
    f_bodyTemperature: "Temperature",
    f_deviceSN: "Terminal",
    f_occurred_at: "Happened",
    f_received_at: "Received",
    f_uuid: "Record ID",
    f_trace_id: "Alarm ID",
    f_code: "Alarm",
    f_status: "Status",
    f_description: "Description",
    f_groups: "Groups",
    f_job_number: "Job number",
    f_ic_number: "Card number",
    f_remark: "Remark",
    nav_live: "Live",
    nav_attendance: "Attendance",
    attendance: "Attendance",
    att_from: "From day",
    att_to: "To day",
    att_show: "Show",
    export_xlsx: "Export XLSX",
    att_day: "Day",
    who: "Person",
    first_in: "First in",
    last_out: "Last out",
    hours: "Hours",
    passages: "Passages",
    open_day: "OPEN",
    open_title: "The last passage was an in with no out after it",
    att_rows: "{n} person-days ({open} open), times in {zone}",
    att_none: "No passages in these days.",
    att_zone_local: "this browser's time zone",
    direction: "Direction",
    dir_in: "in",
    dir_out: "out",
    dir_both: "in and out",
  },
  zh: {
    title: "门禁看板",
    stat_recognitions: "识别记录",
    stat_alarms: "告警上报",
    stat_devices: "终端",
    refused_title: "拒绝访问",
    refused_text: "接收端拒绝了此看板的令牌：令牌缺失或错误。请以 /?token=令牌 打开看板，或在此输入令牌。",
    token: "令牌",
    open: "打开",
    alarms_open: "未解除告警",
    alarms_recent: "最近已解除",
    no_alarms: "没有未解除的告警。",
    feed: "实时通行",
    feed_empty: "等待记录…",
    pause: "暂停",
    resume: "继续",
    pending: "暂停期间新增 {n} 条",
    terminals: "终端",
    no_terminals: "尚无终端推送，也无受管终端。",
    serial: "序列号",
    state: "状态",
    last_seen: "最近上报",
    today: "今日",
    online: "在线",
    silent: "静默",
    replaying: "补传中",
    offline: "离线",
    clock_unknown: "尚未读取时钟",
    repaired: "已补录 {n}",
    repaired_title: "仅在此终端历史记录中的记录：接收端对账时找回",
    pushes_elsewhere: "推送至 {dest}，而非本接收端",
    ago: "{t}前",
    search: "查询记录",
    terminal: "终端",
    person: "人员（用户ID）",
    type: "类型",
    any: "全部",
    recognition: "识别通行",
    alarm: "告警",
    passage: "通行",
    pass: "通过",
    deny: "拒绝",
    from: "开始",
    until: "结束",
    search_btn: "查询",
    reset: "重置",
    export: "导出 CSV",
    time: "时间",
    who_what: "人员 / 告警",
    details: "详情",
    load_more: "加载更多",
    results: "已显示 {n} 条",
    results_more: "已显示 {n} 条，还有更多",
    raw: "原始记录",
    late: "补传",
    late_title: "发生后 {t} 才到达（离线缓存补传）",
    unknown_person: "未知人员",
    score: "分数",
    temperature: "体温",
    raised: "发生",
    handled: "最近上报",
    no_photo: "无照片",
    conn_live: "实时",
    conn_connecting: "连接中…",
    conn_reconnecting: "重新连接中…",
    conn_refused: "已拒绝",
    error: "错误：{msg}",
    f_user_type: "人员类型",
    f_user_id: "用户ID",
    f_recognitionType: "识别类型",
    f_entry_mode: "开门方式",
    f_mode: "验证模式",
    f_abnormal_type: "异常类型",
    f_mask: "口罩",
    f_recognizeScore: "识别分数",
    f_bodyTemperature: "体温",
    f_deviceSN: "终端",
    f_occurred_at: "发生时间",
    f_received_at: "接收时间",
    f_uuid: "记录ID",
    f_trace_id: "告警流水号",
    f_code: "告警类型",
    f_status: "告警状态",
    f_description: "描述",
    f_groups: "分组",
    f_job_number: "工号",
    f_ic_number: "IC卡号",
    f_remark: "备注",
    nav_live: "实时",
    nav_attendance: "考勤",
    attendance: "考勤",
    att_from: "开始日期",
    att_to: "结束日期",
    att_show: "查看",
    export_xlsx: "导出 XLSX",
    att_day: "日期",
    who: "人员",
    first_in: "首次进入",
    last_out: "最后离开",
    hours: "时长",
    passages: "通行次数",
    open_day: "未离开",
    open_title: "最后一次通行为进入，之后没有离开",
    att_rows: "{n} 人天（{open} 未离开），时间为 {zone}",
    att_none: "这些日期没有通行记录。",
    att_zone_local: "本浏览器时区",
    direction: "方向",
    dir_in: "进",
    dir_out: "出",
    dir_both: "进出",
  },
};

let lang = localStorage.getItem("facepush.lang") === "zh" ? "zh" : "en";
let tables = {};
const listeners = [];

export function currentLang() {
  return lang;
}

/** The page's own word for `key`, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = WORDS[lang][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** The label of `code` in code table `table` (e.g. "abnormal_type", 10001). */
export function label(table, code) {
  if (code === null || code === undefined) return "—";
  const entry = tables[table]?.[String(code)];
  if (entry) return entry[lang] || entry.en;
  return lang === "zh" ? `未知 (${code})` : `unknown (${code})`;
}

/** The `data` of /dashboard/labels.json: `{table: {code: {en, zh}}}`. */
export function setLabelTables(data) {
  tables = data;
}

/** Put the page's own words into every element marked data-i18n. */
export function applyWords(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
}

export function onLangChange(fn) {
  listeners.push(fn);
}

export function toggleLang() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("facepush.lang", lang);
  applyWords();
  for (const fn of listeners) fn(lang);
}
