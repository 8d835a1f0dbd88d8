// The console's own words (Simplified Chinese by default, English on switch). Rule titles and alert
// reasons are not here: they come from the one catalogue, contracts/messages.py, served as
// /console/messages.json (English: the rules' own text from the node's answers).

const UI = {
  zh: {
    title: "组织台账控制台",
    lang_switch: "English",
    signin: "登录",
    signout: "退出",
    key_file: "密钥文件（只在本页内存中使用，不会上传）",
    token: "访问令牌（orgledger api token）",
    genesis_file: "创世文件 genesis.json（可选；不选则使用本节点提供的）",
    signin_key: "用密钥登录",
    signin_token: "用令牌登录",
    signed_in_as: "当前用户",
    nav_dashboard: "预警总览",
    nav_alerts: "预警列表",
    nav_orgs: "组织树",
    nav_member: "党员档案",
    nav_blocks: "区块与交易",
    nav_bundle: "证明包核验",
    nav_accesslog: "访问日志",
    verified: "已验证",
    not_verified: "未通过验证",
    verifying: "验证中…",
    verified_detail: "本页已用提交证书（{q} 个验证节点签名）和状态证明核验，高度 {h}",
    colour: "颜色",
    rule: "规则",
    org: "组织",
    state: "状态",
    date_from: "起始日期",
    date_to: "截止日期",
    any: "全部",
    filter: "筛选",
    raised: "发出日期",
    reason: "原因",
    actions: "操作",
    ack: "确认",
    close: "办结",
    close_reason: "办结理由",
    waive: "豁免",
    no_items: "没有记录",
    open_detail: "查看",
    record_refs: "关联记录",
    alert: "预警",
    details: "详情",
    by_colour_month: "预警随时间的变化（按发出日期和颜色）",
    read_only_role: "你的角色只能查看预警；确认、办结由本组织或上级的经办人、审批人、管理员操作。",
    by_rule: "按规则统计",
    count: "数量",
    members: "党员",
    alerts_open: "未办结预警",
    person_key: "人员标识（person key）",
    show_history: "查看履历",
    history_note: "身份证号已脱敏；列表不保证完整（来自索引，每条均经证明）。",
    height: "高度",
    block_hash: "区块哈希",
    proposer: "提议节点",
    signatures: "签名",
    time: "时间",
    txs: "交易",
    tx_type: "交易类型",
    certificate: "提交证书（已逐一核验签名）",
    load_more: "更早的区块",
    bundle_drop: "把 orgledger audit prove 生成的证明包拖到这里，或选择文件",
    bundle_ok: "证明包已在本页核验通过",
    access_only_root: "访问日志仅对根组织的管理员和审计员开放。",
    access_segments: "已封存日志段",
    access_current: "当前日志段行数",
    access_chain_ok: "访问日志最近 {n} 行的哈希链已在本页核验（链头锚定在账本上，可用 orgledger audit access 全量核验）",
    access_what: "读取内容",
    access_path: "请求",
    seq: "序号",
    caller: "调用者",
    contents_hidden: "审计员只能看到记录的哈希（内容不可读），哈希已经证明。",
    done: "已完成",
    needs_key: "此操作需要用密钥文件登录（令牌不能签名交易）",
    sibling_hidden: "不在你的管辖范围内",
    chain: "链",
    node: "节点",
    trust_from: "信任来源",
    trust_node_genesis: "本节点提供的创世文件",
    trust_own_genesis: "你加载的创世文件",
  },
  en: {
    title: "orgledger console",
    lang_switch: "中文",
    signin: "Sign in",
    signout: "Sign out",
    key_file: "Key file (kept in this page's memory only, never uploaded)",
    token: "Token (orgledger api token)",
    genesis_file: "genesis.json (optional; else the one this node serves)",
    signin_key: "Sign in with the key",
    signin_token: "Sign in with the token",
    signed_in_as: "Signed in as",
    nav_dashboard: "Dashboard",
    nav_alerts: "Alerts",
    nav_orgs: "Organisations",
    nav_member: "Member history",
    nav_blocks: "Blocks and transactions",
    nav_bundle: "Proof bundle",
    nav_accesslog: "Access log",
    verified: "Verified",
    not_verified: "Verification failed",
    verifying: "Verifying…",
    verified_detail: "checked in this page with the commit certificate ({q} validator signatures) and the state proof, height {h}",
    colour: "Colour",
    rule: "Rule",
    org: "Organisation",
    state: "State",
    date_from: "From",
    date_to: "To",
    any: "any",
    filter: "Filter",
    raised: "Raised",
    reason: "Reason",
    actions: "Actions",
    ack: "Acknowledge",
    close: "Close",
    close_reason: "Reason for closing",
    waive: "Waive",
    no_items: "Nothing here",
    open_detail: "Open",
    record_refs: "Records",
    alert: "Alert",
    details: "Details",
    by_colour_month: "Alerts over time (by date raised and colour)",
    read_only_role: "Your role reads alerts; acknowledging and closing is for operators, approvers and admins of the org or above.",
    by_rule: "By rule",
    count: "Count",
    members: "Members",
    alerts_open: "Open alerts",
    person_key: "Person key",
    show_history: "Show history",
    history_note: "ID numbers are masked; the list is not proven complete (from the index, each item proven).",
    height: "Height",
    block_hash: "Block hash",
    proposer: "Proposer",
    signatures: "Signatures",
    time: "Time",
    txs: "Transactions",
    tx_type: "Type",
    certificate: "Commit certificate (each signature checked)",
    load_more: "Older blocks",
    bundle_drop: "Drop a proof bundle from orgledger audit prove here, or choose the file",
    bundle_ok: "The proof bundle verified in this page",
    access_only_root: "The access log is for root-org admins and auditors.",
    access_segments: "Closed segments",
    access_current: "lines in the open segment",
    access_chain_ok: "the hash chain of the newest {n} lines was checked in this page (its heads are anchored on the ledger: orgledger audit access checks all)",
    access_what: "Read",
    access_path: "Request",
    seq: "Seq",
    caller: "Caller",
    contents_hidden: "Auditors see record hashes only (no contents); the hash is proven.",
    done: "Done",
    needs_key: "This needs a key file sign-in (a token cannot sign transactions)",
    sibling_hidden: "outside your subtree",
    chain: "Chain",
    node: "Node",
    trust_from: "Trust from",
    trust_node_genesis: "the genesis this node serves",
    trust_own_genesis: "the genesis you loaded",
  },
};

let lang = "zh";
let catalogue = { rules: {}, reasons: {}, colours: {}, states: {} };

export function setLang(l) {
  lang = l === "en" ? "en" : "zh";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

export function getLang() {
  return lang;
}

export function setCatalogue(c) {
  catalogue = c;
}

export function t(key, vars = {}) {
  let s = UI[lang][key] ?? UI.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}

/** A rule's title: the catalogue's Chinese, or in English the rule id alone (the reason says more). */
export function ruleTitle(ruleId) {
  return lang === "zh" ? catalogue.rules[ruleId] || ruleId : ruleId;
}

export function reasonText(alert) {
  if (lang === "zh" && catalogue.reasons[alert.reason_code]) return catalogue.reasons[alert.reason_code];
  return alert.reason || alert.reason_code || "";
}

const FAMILIES_ZH = {
  archive: "党员档案",
  archive_version: "档案版本",
  pipeline: "发展党员程序",
  pipeline_step: "发展步骤（阶段与期限）",
  material: "材料",
  material_version: "材料版本",
  transfer: "组织关系转接",
  transfer_in: "转入报到",
  meeting: "会议",
  meeting_version: "会议版本",
  decision: "决策",
  decision_version: "决策版本",
  alert: "预警",
};

export function familyText(f) {
  return lang === "zh" ? FAMILIES_ZH[f] || f : f;
}

export function colourText(c) {
  return lang === "zh" ? catalogue.colours[c] || c : c;
}

export function stateText(s) {
  return lang === "zh" ? catalogue.states[s] || s : s;
}
