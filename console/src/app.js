// The console: sign-in, views, and the 已验证 / 未通过验证 banners (docs/console.md).
//
// Rules the views keep:
// - Whatever a view shows of ledger state comes from the proven bytes of an answer fetched with
//   `proof=true` and checked in this page (verify.js): the node's JSON rendering is used only to
//   find those bytes. An answer that fails the check (or that the node refuses to back) shows the
//   red 未通过验证 banner with the reason, never the data.
// - A filter is checked against the proven records too: an item the node returns that does not
//   match it, or that lies outside the caller's subtree, fails the answer.
// - DOM is built with textContent only (no innerHTML of node data).

import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { ApiError, nodeStatus, parseKeyFile, Session } from "./api.js";
import { colourText, familyText, getLang, reasonText, ruleTitle, setCatalogue, setLang, stateText, t } from "./i18n.js";
import { checkBundle } from "./bundle.js";
import {
  anchorOf,
  certifiedHeader,
  decodeMsgpack,
  hex,
  merkleRoot,
  sha256,
  txIdOf,
  unhex,
  VerificationError,
  verifyAnswer,
} from "./verify.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const app = {
  session: null,
  anchor: null,
  anchorSource: "node",
  me: null,
  status: null,
  charts: [],
  current: null,
};

// ------------------------------------------------------------------------------------ DOM helpers
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function main() {
  return document.getElementById("main");
}

// A view renders only while it is the current one: a slow view that finishes after the user moved
// on (or after sign-in's first view) must not overwrite the newer one.
function shower() {
  const mine = app.current;
  const fn = (...nodes) => {
    if (app.current === mine) show(...nodes);
  };
  fn.stale = () => app.current !== mine;
  return fn;
}

function show(...nodes) {
  app.charts.forEach((c) => c.destroy());
  app.charts = [];
  main().replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

// ID numbers inside any text shown (wire/idnumber.py mask_text: 18 characters, first 6 and last 4 kept)
const ID_RUN = /(?<![0-9０-９])([0-9０-９]{6})[0-9０-９]{8}([0-9０-９]{3}[0-9０-９XxＸｘ])(?![0-9０-９])/g;
export function maskIds(text) {
  return String(text).replace(ID_RUN, (_, a, b) => `${a}********${b}`);
}

function okBanner(state) {
  return h(
    "div",
    { class: "banner ok", "data-verified": "true" },
    h("strong", {}, `✔ ${t("verified")}`),
    " ",
    t("verified_detail", { q: state.certificate.signatures.length, h: state.height }),
  );
}

function failBanner(err) {
  return h(
    "div",
    { class: "banner fail", "data-verified": "false", role: "alert" },
    h("strong", {}, `✘ ${t("not_verified")}`),
    " ",
    err instanceof ApiError ? `${err.code}: ${err.message}` : err.message || String(err),
  );
}

function errorBox(err) {
  return h("div", { class: "banner error", role: "alert" }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err.message || err));
}

function inScope(orgId) {
  const scope = app.me.org_id;
  if (app.me.kind === "node" || !scope.includes(".")) return true;
  return orgId === scope || String(orgId).startsWith(scope + ".");
}

/**
 * GET `target` with proof=true and verify it in the page. A refusal by the node because its data
 * disagrees with its certified state (index_inconsistent, storage_corrupt) is a failed check as well.
 */
async function proven(target) {
  const sep = target.includes("?") ? "&" : "?";
  let doc;
  try {
    doc = await app.session.get(`${target}${sep}proof=true`);
  } catch (err) {
    if (err instanceof ApiError && ["index_inconsistent", "storage_corrupt"].includes(err.code)) {
      throw new VerificationError(`the node could not back its answer with its certified state (${err.code}: ${err.message})`);
    }
    throw err;
  }
  const { state, items } = verifyAnswer(app.anchor, doc);
  // alerts carry their subject org in the proven bytes: one outside the caller's subtree is refused
  // (other families follow the node's own visibility rules, e.g. a county's step in a branch's pipeline)
  for (const it of items) {
    const org = it._record?.org_id;
    if (it.family === "alert" && org && !inScope(org)) {
      throw new VerificationError(`the node served ${it._key}, which is outside your subtree`);
    }
  }
  return { doc, state, items };
}

// ------------------------------------------------------------------------------------ sign-in
async function loadAnchor(genesisFile) {
  let doc;
  if (genesisFile) {
    doc = JSON.parse(await genesisFile.text());
    app.anchorSource = "own";
  } else {
    const resp = await fetch("/console/genesis.json");
    doc = await resp.json();
    app.anchorSource = "node";
  }
  app.anchor = anchorOf(doc);
  if (app.anchor.chainId !== app.status.chain_id) throw new Error(`the genesis is of chain ${app.anchor.chainId}, this node of ${app.status.chain_id}`);
}

async function signIn({ key = null, token = null, genesisFile = null }) {
  app.status = await nodeStatus();
  await loadAnchor(genesisFile);
  app.session = new Session({ key, token, status: app.status });
  app.me = await app.session.get("/v1/auth/whoami");
  renderShell();
  route();
}

function signInView(message = null) {
  document.getElementById("who").replaceChildren();
  document.getElementById("nav").replaceChildren();
  const keyInput = h("input", { type: "file", id: "key-file", accept: ".key,.json,application/json" });
  const tokenInput = h("input", { type: "text", id: "token", autocomplete: "off", spellcheck: "false" });
  const genesisInput = h("input", { type: "file", id: "genesis-file", accept: ".json" });
  const out = h("div", { id: "signin-error" });
  const fail = (err) => out.replaceChildren(errorBox(err));
  const withKey = async () => {
    try {
      const file = keyInput.files[0];
      if (!file) throw new Error(t("key_file"));
      await signIn({ key: parseKeyFile(await file.text()), genesisFile: genesisInput.files[0] });
    } catch (err) {
      fail(err);
    }
  };
  const withToken = async () => {
    try {
      await signIn({ token: tokenInput.value.trim(), genesisFile: genesisInput.files[0] });
    } catch (err) {
      fail(err);
    }
  };
  show(
    h(
      "section",
      { class: "signin" },
      h("h2", {}, t("signin")),
      message ? errorBox(message) : null,
      h("label", {}, t("key_file"), keyInput),
      h("button", { id: "signin-key", onclick: withKey }, t("signin_key")),
      h("label", {}, t("token"), tokenInput),
      h("button", { id: "signin-token", onclick: withToken }, t("signin_token")),
      h("label", {}, t("genesis_file"), genesisInput),
      out,
    ),
  );
}

// ------------------------------------------------------------------------------------ shell
const VIEWS = {
  dashboard: dashboardView,
  alerts: alertsView,
  alert: alertView,
  record: recordView,
  orgs: orgsView,
  member: memberView,
  blocks: blocksView,
  bundle: bundleView,
  accesslog: accessLogView,
};

function renderShell() {
  const links = ["dashboard", "alerts", "orgs", "member", "blocks", "bundle", "accesslog"].map((v) =>
    h("a", { href: `#/${v}`, id: `nav-${v}` }, t(`nav_${v}`)),
  );
  document.getElementById("nav").replaceChildren(...links);
  const trust = app.anchorSource === "own" ? t("trust_own_genesis") : t("trust_node_genesis");
  document.getElementById("who").replaceChildren(
    h("span", { id: "whoami" }, `${t("signed_in_as")}: ${app.me.user_id} · ${app.me.org_id} · ${app.me.roles.join(",")}`),
    h("span", { class: "muted" }, ` · ${t("node")} ${app.status.node_id} · ${t("trust_from")} ${trust}`),
    h("button", { id: "signout", onclick: () => { app.session = null; location.hash = ""; signInView(); } }, t("signout")),
  );
}

function route() {
  if (!app.session) return signInView();
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const [view, query] = (name || "dashboard").split("?");
  const fn = VIEWS[view] || dashboardView;
  app.current = {};
  const params = new URLSearchParams(query || "");
  fn(rest.map(decodeURIComponent).join("/"), params).catch((err) => show(errorBox(err)));
}

// ------------------------------------------------------------------------------------ alerts
async function allAlerts(filter = "") {
  const out = [];
  let cursor = null;
  let last = null;
  for (let page = 0; page < 20; page++) {
    const q = `/v1/alerts?limit=500${filter}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await proven(q);
    last = res.state;
    out.push(...res.items);
    cursor = res.doc.next_cursor;
    if (!cursor) break;
  }
  return { items: out, state: last };
}

function alertFields(item) {
  const r = item._record || {};
  return {
    id: r.alert_id ?? item.id,
    rule: r.rule_id,
    colour: r.colour,
    status: r.status,
    org: r.org_id,
    day: r.raised_date,
    record: r,
  };
}

async function dashboardView() {
  const show = shower();
  show(h("p", {}, t("verifying")));
  let res;
  try {
    res = await allAlerts();
  } catch (err) {
    return show(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
  const alerts = res.items.map(alertFields);
  // by day over the last two months of alerts, else by month
  const days = alerts.map((a) => String(a.day)).sort();
  const span = days.length ? (Date.parse(days[days.length - 1]) - Date.parse(days[0])) / 86400000 : 0;
  const bucket = (day) => (span <= 62 ? String(day) : String(day).slice(0, 7));
  const months = [...new Set(alerts.map((a) => bucket(a.day)))].sort();
  const colours = ["RED", "YELLOW", "BLUE"];
  const palette = { RED: "#c62828", YELLOW: "#f9a825", BLUE: "#1565c0" };
  const canvas = h("canvas", { id: "chart-colour", width: 900, height: 300 });
  const byRule = {};
  for (const a of alerts) byRule[a.rule] = (byRule[a.rule] || 0) + 1;
  const rules = Object.keys(byRule).sort((a, b) => byRule[b] - byRule[a]);
  const ruleCanvas = h("canvas", { id: "chart-rule", width: 900, height: 60 + 26 * rules.length });

  show(
    res.state ? okBanner(res.state) : null,
    h("h2", {}, t("by_colour_month")),
    h("div", { class: "chart" }, canvas),
    h("h2", {}, t("by_rule")),
    h("div", { class: "chart" }, ruleCanvas),
    h(
      "table",
      { id: "rule-counts" },
      h("tr", {}, h("th", {}, t("rule")), h("th", {}, t("count"))),
      rules.map((r) =>
        h("tr", {}, h("td", {}, h("a", { href: `#/alerts?type=${encodeURIComponent(r)}` }, `${r} ${ruleTitle(r)}`)), h("td", {}, byRule[r])),
      ),
    ),
  );
  if (show.stale()) return;
  app.charts.push(
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: months,
        datasets: colours.map((c) => ({
          label: colourText(c),
          backgroundColor: palette[c],
          data: months.map((m) => alerts.filter((a) => a.colour === c && bucket(a.day) === m).length),
        })),
      },
      options: { animation: false, responsive: false, scales: { x: { stacked: true }, y: { stacked: true } } },
    }),
    new Chart(ruleCanvas, {
      type: "bar",
      data: {
        labels: rules.map((r) => (getLang() === "zh" ? `${r} ${ruleTitle(r)}` : r)),
        datasets: colours.map((c) => ({
          label: colourText(c),
          backgroundColor: palette[c],
          data: rules.map((r) => alerts.filter((a) => a.rule === r && a.colour === c).length),
        })),
      },
      options: {
        animation: false,
        responsive: false,
        indexAxis: "y",
        scales: { x: { stacked: true }, y: { stacked: true, ticks: { autoSkip: false } } },
      },
    }),
  );
}

function select(id, options, value) {
  return h(
    "select",
    { id },
    h("option", { value: "" }, t("any")),
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}

async function alertsView(_, params) {
  const show = shower();
  const ruleIds = Object.keys((await catalogueOnce()).rules);
  const f = {
    colour: params.get("colour") || "",
    type: params.get("type") || "",
    org_id: params.get("org_id") || "",
    status: params.get("status") || "",
    date_from: params.get("date_from") || "",
    date_to: params.get("date_to") || "",
  };
  const controls = h(
    "form",
    { id: "alert-filters", class: "filters", onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("label", {}, t("colour"), select("f-colour", ["RED", "YELLOW", "BLUE"].map((c) => [c, colourText(c)]), f.colour)),
    h("label", {}, t("rule"), select("f-rule", ruleIds.map((r) => [r, `${r} ${ruleTitle(r)}`]), f.type)),
    h("label", {}, t("org"), h("input", { id: "f-org", value: f.org_id, placeholder: app.me.org_id })),
    h("label", {}, t("state"), select("f-state", ["OPEN", "ACKED", "RESOLVED", "WAIVED"].map((s) => [s, stateText(s)]), f.status)),
    h("label", {}, t("date_from"), h("input", { id: "f-from", type: "date", value: f.date_from })),
    h("label", {}, t("date_to"), h("input", { id: "f-to", type: "date", value: f.date_to })),
    h("button", { id: "f-apply", type: "submit" }, t("filter")),
  );
  function apply() {
    const q = new URLSearchParams();
    const put = (k, id) => {
      const v = document.getElementById(id).value.trim();
      if (v) q.set(k, v);
    };
    put("colour", "f-colour");
    put("type", "f-rule");
    put("org_id", "f-org");
    put("status", "f-state");
    put("date_from", "f-from");
    put("date_to", "f-to");
    location.hash = `#/alerts?${q}`;
  }
  const out = h("div", { id: "alert-list" }, t("verifying"));
  show(controls, out);
  const q = Object.entries(f).filter(([, v]) => v).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join("");
  try {
    const res = await allAlerts(q);
    const rows = res.items.map(alertFields);
    for (const a of rows) {
      const bad =
        (f.colour && a.colour !== f.colour) ||
        (f.type && a.rule !== f.type) ||
        (f.status && a.status !== f.status) ||
        (f.org_id && !(a.org === f.org_id || String(a.org).startsWith(f.org_id + "."))) ||
        (f.date_from && a.day < f.date_from) ||
        (f.date_to && a.day > f.date_to);
      if (bad) throw new VerificationError(`the node returned alert ${a.id}, which does not match the filter`);
    }
    out.replaceChildren(
      ...(res.state ? [okBanner(res.state)] : []),
      rows.length === 0
        ? h("p", {}, t("no_items"))
        : h(
            "table",
            { class: "alerts" },
            h("tr", {}, ...["colour", "rule", "reason", "org", "raised", "state", ""].map((k) => h("th", {}, k ? t(k) : ""))),
            rows.map((a) =>
              h(
                "tr",
                { class: `alert-row c-${a.colour}`, "data-alert": a.id, "data-rule": a.rule },
                h("td", {}, h("span", { class: `dot ${a.colour}` }), colourText(a.colour)),
                h("td", {}, `${a.rule} ${ruleTitle(a.rule)}`),
                h("td", {}, maskIds(reasonText(a.record))),
                h("td", {}, a.org),
                h("td", {}, a.day),
                h("td", {}, stateText(a.status)),
                h("td", {}, h("a", { href: `#/alert/${a.id}`, class: "open-alert" }, t("open_detail"))),
              ),
            ),
          ),
    );
  } catch (err) {
    out.replaceChildren(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
}

function kv(obj) {
  return h(
    "table",
    { class: "kv" },
    Object.entries(obj).map(([k, v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, maskIds(typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)))),
    ),
  );
}

// state key of a record reference -> the console route that shows it
const FAMILY_PATHS = { archive: "archives", doc: "materials", pipeline: "pipelines", transfer: "transfers", meeting: "meetings", decision: "decisions", alert: "alerts" };
function refLink(ref) {
  const [prefix, ...rest] = String(ref).split("/");
  const path = FAMILY_PATHS[prefix];
  if (!path) return h("code", {}, ref);
  return h("a", { href: `#/record/${path}/${rest.join("/")}`, class: "record-ref" }, ref);
}

async function alertView(id) {
  const show = shower();
  show(h("p", {}, t("verifying")));
  let res;
  try {
    res = await proven(`/v1/alerts/${encodeURIComponent(id)}`);
  } catch (err) {
    return show(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
  const a = alertFields(res.items[0]);
  const r = a.record;
  const actions = h("div", { id: "alert-actions", class: "actions" });
  const roles = new Set(app.me.roles);
  const mayAct = ["operator", "admin", "approver"].some((r) => roles.has(r));
  const mayWaive = ["admin", "approver"].some((r) => roles.has(r));
  if (!mayAct) {
    actions.append(h("p", { class: "muted", id: "read-only" }, t("read_only_role")));
  } else if (app.session.key && ["OPEN", "ACKED"].includes(a.status)) {
    const reason = h("input", { id: "close-reason", placeholder: t("close_reason") });
    const status = h("span", { id: "action-status" });
    const act = async (txType, payload) => {
      status.textContent = "…";
      try {
        const st = await app.session.submit(txType, app.me.org_id, payload);
        const rc = st.receipt || {};
        status.textContent = rc.status === "REJECTED" ? `${rc.reason_code}: ${rc.reason}` : t("done");
        if (rc.status !== "REJECTED") setTimeout(() => alertView(id), 1500);
      } catch (err) {
        status.textContent = err.message;
      }
    };
    actions.append(
      a.status === "OPEN" ? h("button", { id: "ack", onclick: () => act("alert.ack", { alert_id: a.id }) }, t("ack")) : null,
      reason,
      h(
        "button",
        {
          id: "close",
          onclick: async () => {
            const text = reason.value.trim();
            if (!text) return (status.textContent = t("close_reason"));
            await act("alert.resolve", { alert_id: a.id, reason: text, evidence_hash: hex(sha256(new TextEncoder().encode(text))) });
          },
        },
        t("close"),
      ),
      mayWaive
        ? h(
            "button",
            {
              id: "waive",
              onclick: async () => {
                const text = reason.value.trim();
                if (!text) return (status.textContent = t("close_reason"));
                await act("alert.waive", { alert_id: a.id, reason: text });
              },
            },
            t("waive"),
          )
        : null,
      status,
    );
  } else if (!app.session.key) {
    actions.append(h("p", { class: "muted" }, t("needs_key")));
  }
  show(
    okBanner(res.state),
    h("h2", { id: "alert-title" }, `${colourText(a.colour)} · ${a.rule} ${ruleTitle(a.rule)}`),
    h("p", { id: "alert-reason" }, maskIds(reasonText(r))),
    h("h3", {}, t("record_refs")),
    h("ul", { id: "record-refs" }, (r.record_refs || []).map((ref) => h("li", {}, refLink(ref)))),
    actions,
    h("h3", {}, t("details")),
    kv(r),
  );
}

async function recordView(path) {
  const show = shower();
  show(h("p", {}, t("verifying")));
  const [family, ...rest] = path.split("/");
  let res;
  try {
    res = await proven(`/v1/${family}/${rest.map(encodeURIComponent).join("/")}`);
  } catch (err) {
    return show(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
  const item = res.items[0];
  show(
    okBanner(res.state),
    h("h2", { id: "record-title" }, `${familyText(item.family)} ${item.family} ${item.id}`),
    item._record === null ? h("p", { class: "muted", id: "hash-only" }, t("contents_hidden")) : null,
    kv({ state_key: item._key, value_hash: item.value_hash, org_id: item.org_id }),
    item._record === null ? null : kv(item._record),
  );
}

// ------------------------------------------------------------------------------------ orgs
async function orgsView() {
  const show = shower();
  show(h("p", {}, t("verifying")));
  let orgs;
  let alerts;
  try {
    orgs = await proven("/v1/orgs?limit=500");
    alerts = await allAlerts("&status=OPEN");
  } catch (err) {
    return show(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
  const open = {};
  for (const a of alerts.items.map(alertFields)) open[a.org] = (open[a.org] || 0) + 1;
  const byParent = {};
  for (const o of orgs.items) {
    const r = o._record;
    (byParent[r.parent ?? ""] ||= []).push(r);
  }
  const members = {};
  try {
    const arch = await proven("/v1/archives?limit=500");
    for (const it of arch.items) members[it.org_id] = (members[it.org_id] || 0) + 1;
  } catch {
    // auditors without contents still see the count of proven archive keys; otherwise leave blank
  }
  const subtotal = (id, table) =>
    (table[id] || 0) + (byParent[id] || []).reduce((n, c) => n + subtotal(c.org_id, table), 0);
  const tree = (parent) =>
    h(
      "ul",
      {},
      (byParent[parent] || []).map((o) =>
        h(
          "li",
          { "data-org": o.org_id },
          h("span", { class: "org" }, `${o.name} (${o.org_id}, ${o.level})`),
          " ",
          h("span", { class: "badge" }, `${t("alerts_open")} ${subtotal(o.org_id, open)}`),
          " ",
          h("span", { class: "badge" }, `${t("members")} ${subtotal(o.org_id, members)}`),
          tree(o.org_id),
        ),
      ),
    );
  const ids = new Set(orgs.items.map((o) => o._record.org_id));
  const roots = [...new Set(orgs.items.map((o) => o._record.parent ?? "").filter((p) => !ids.has(p)))];
  show(okBanner(orgs.state), h("div", { id: "org-tree" }, roots.map(tree)));
}

// ------------------------------------------------------------------------------------ member
const HISTORY_ORDER = ["archive", "archive_version", "pipeline", "pipeline_step", "material", "material_version", "transfer", "transfer_in", "meeting", "meeting_version", "decision", "decision_version", "alert"];
async function memberView(pk) {
  const show = shower();
  const input = h("input", { id: "person-key", value: pk || "", size: 70, placeholder: t("person_key") });
  const out = h("div", { id: "member-history" });
  show(
    h(
      "form",
      { onsubmit: (e) => { e.preventDefault(); location.hash = `#/member/${input.value.trim()}`; } },
      h("label", {}, t("person_key"), input),
      h("button", { type: "submit" }, t("show_history")),
    ),
    out,
  );
  if (!pk) {
    try {
      const arch = await proven("/v1/archives?limit=50");
      out.replaceChildren(
        okBanner(arch.state),
        h("ul", {}, arch.items.map((it) => h("li", {}, h("a", { href: `#/member/${it.id}` }, it.id), ` ${it.org_id} ${it._record?.status ?? ""}`))),
      );
    } catch (err) {
      out.replaceChildren(err instanceof VerificationError ? failBanner(err) : errorBox(err));
    }
    return;
  }
  out.replaceChildren(t("verifying"));
  try {
    const res = await proven(`/v1/members/${encodeURIComponent(pk)}/history`);
    const groups = {};
    for (const it of res.items) (groups[it.family] ||= []).push(it);
    out.replaceChildren(
      okBanner(res.state),
      h("p", { class: "muted" }, t("history_note")),
      ...Object.entries(groups)
        .sort(([a], [b]) => HISTORY_ORDER.indexOf(a) - HISTORY_ORDER.indexOf(b))
        .map(([fam, items]) =>
        h(
          "section",
          { class: "history-group" },
          h("h3", {}, `${familyText(fam)} (${items.length})`),
          items.map((it) => h("details", {}, h("summary", {}, `${it.id} · ${it.day ?? ""} · ${[it.kind, it.status].filter(Boolean).join(" · ")}`), it._record ? kv(it._record) : t("contents_hidden"))),
        ),
      ),
    );
  } catch (err) {
    out.replaceChildren(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
}

// ------------------------------------------------------------------------------------ blocks
async function blocksView(from) {
  const show = shower();
  const top = from ? Number(from) : app.status.height ?? (await nodeStatus()).height;
  const status = await nodeStatus();
  const start = Math.min(top || status.height, status.height);
  const rows = h("tbody", {});
  const table = h(
    "table",
    { id: "blocks" },
    h("tr", {}, ...["height", "time", "block_hash", "proposer", "signatures", "txs", ""].map((k) => h("th", {}, k ? t(k) : ""))),
    rows,
  );
  show(h("h2", {}, t("nav_blocks")), table, start > 20 ? h("a", { href: `#/blocks/${start - 20}` }, t("load_more")) : null, h("div", { id: "block-detail" }));
  for (let height = start; height > Math.max(0, start - 20); height--) {
    if (show.stale()) return;
    let cells;
    try {
      const doc = await app.session.get(`/v1/blocks/${height}/header`);
      const { header, certificate } = certifiedHeader(app.anchor, height, unhex(doc.header_bytes), unhex(doc.certificate_bytes));
      cells = [
        h("td", {}, height),
        h("td", {}, new Date(header.timestampMs).toISOString()),
        h("td", {}, h("code", {}, hex(header.hash).slice(0, 16) + "…")),
        h("td", {}, header.proposer),
        h("td", {}, `${certificate.signatures.length}/${app.anchor.validators.length}`),
        h("td", {}, app.me.reads_blocks ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); blockDetail(height); } }, t("open_detail")) : "—"),
        h("td", { class: "ok-cell" }, `✔ ${t("verified")}`),
      ];
    } catch (err) {
      cells = [h("td", {}, height), h("td", { colspan: 6, class: "fail-cell" }, `✘ ${t("not_verified")}: ${err.message}`)];
    }
    rows.append(h("tr", { "data-height": height }, ...cells));
  }
}

async function blockDetail(height) {
  const out = document.getElementById("block-detail");
  out.replaceChildren(t("verifying"));
  try {
    const doc = await app.session.get(`/v1/blocks/${height}`);
    const hdr = await app.session.get(`/v1/blocks/${height}/header`);
    const { header, certificate } = certifiedHeader(app.anchor, height, unhex(hdr.header_bytes), unhex(hdr.certificate_bytes));
    const txs = doc.txs.map((x) => unhex(x));
    if (hex(merkleRoot(txs)) !== hex(header.txRoot)) throw new VerificationError(`the transactions of block ${height} do not hash to its tx root`);
    out.replaceChildren(
      h("div", { class: "banner ok", "data-verified": "true" }, `✔ ${t("verified")} · ${t("height")} ${height} · ${certificate.signatures.length} ${t("signatures")}`),
      h("h3", {}, `${t("txs")} (${txs.length})`),
      h(
        "table",
        { id: "block-txs" },
        h("tr", {}, h("th", {}, "tx_id"), h("th", {}, t("tx_type")), h("th", {}, t("org"))),
        txs.map((raw) => {
          const body = txBody(raw);
          return h("tr", {}, h("td", {}, h("code", {}, hex(txIdOf(raw)))), h("td", {}, body[3] ?? "?"), h("td", {}, body[4] ?? "?"));
        }),
      ),
      h("h3", {}, t("certificate")),
      kv({
        height: certificate.height,
        view: certificate.view,
        block_hash: hex(certificate.blockHash),
        ...Object.fromEntries(certificate.signatures.map(([i, sig]) => [`validator ${i}`, hex(sig)])),
      }),
    );
  } catch (err) {
    out.replaceChildren(err instanceof VerificationError ? failBanner(err) : errorBox(err));
  }
}

// a block entry's body fields [tag, version, chain, type, org, signer, ...] (wire/types.py TxBody)
function txBody(raw) {
  try {
    const signed = decodeMsgpack(raw, { useBigInt64: true });
    return decodeMsgpack(signed[2], { useBigInt64: true });
  } catch {
    return []; // an entry that does not decode (its receipt says `malformed`)
  }
}

// ------------------------------------------------------------------------------------ proof bundle
async function bundleView() {
  const show = shower();
  const out = h("div", { id: "bundle-result" });
  const input = h("input", { type: "file", id: "bundle-file" });
  const check = async (file) => {
    out.replaceChildren(t("verifying"));
    try {
      const result = checkBundle(app.anchor, new Uint8Array(await file.arrayBuffer()));
      out.replaceChildren(
        h("div", { class: "banner ok", "data-verified": "true" }, h("strong", {}, `✔ ${t("verified")}`), " ", t("bundle_ok")),
        kv(result),
      );
    } catch (err) {
      out.replaceChildren(failBanner(err));
    }
  };
  input.addEventListener("change", () => input.files[0] && check(input.files[0]));
  const zone = h("div", { class: "dropzone", id: "dropzone" }, t("bundle_drop"), h("br"), input);
  zone.addEventListener("dragover", (e) => e.preventDefault());
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) check(e.dataTransfer.files[0]);
  });
  show(h("h2", {}, t("nav_bundle")), zone, out);
}

// ------------------------------------------------------------------------------------ access log
// wire/accesslog.py: a line is canonical JSON (sorted keys, no blanks, ASCII); its `h` is
// SHA-256("orgledger/access-log" NUL || the canonical line without h), and `prev` is the previous h
function canonicalJson(v) {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${canonicalJson(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  }
  if (typeof v === "string") return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return JSON.stringify(v);
}

function lineHash(entry) {
  const { h: _, ...rest } = entry;
  const enc = new TextEncoder();
  const domain = enc.encode("orgledger/access-log\u0000");
  const body = enc.encode(canonicalJson(rest));
  const all = new Uint8Array(domain.length + body.length);
  all.set(domain);
  all.set(body, domain.length);
  return hex(sha256(all));
}

async function accessLogView() {
  const show = shower();
  if (!app.me.reads_blocks) return show(h("p", { id: "access-denied" }, t("access_only_root")));
  const seg = await app.session.get("/v1/access-log/segments");
  const target = "/v1/access-log/segments/current";
  const resp = await fetch(target, { headers: app.session.headers("GET", target, new Uint8Array(0)) });
  if (!resp.ok) return show(errorBox(new ApiError(resp.status, "http_error", `GET ${target}: ${resp.status}`)));
  const lines = (await resp.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  let check;
  try {
    lines.forEach((e, i) => {
      if (lineHash(e) !== e.h) throw new VerificationError(`line ${e.seq}: its hash does not match its contents`);
      if (i > 0 && (e.seq !== lines[i - 1].seq + 1 || (e.prev !== lines[i - 1].h && e.prev !== "0".repeat(64)))) {
        throw new VerificationError(`line ${e.seq} does not follow line ${lines[i - 1].seq}`);
      }
    });
    check = h("div", { class: "banner ok", "data-verified": "true" }, h("strong", {}, `✔ ${t("verified")}`), " ", t("access_chain_ok", { n: lines.length }));
  } catch (err) {
    check = failBanner(err);
  }
  const shown = lines.slice(-200).reverse();
  show(
    h("h2", {}, t("nav_accesslog")),
    check,
    h("p", { class: "muted" }, `${t("access_segments")}: ${seg.segments.length} · ${t("access_current")} ${seg.current_lines} · ${t("node")} ${seg.node_id}`),
    h(
      "table",
      { id: "access-log" },
      h("tr", {}, ...["seq", "time", "caller", "org", "access_what", "access_path", "count", "state"].map((k) => h("th", {}, t(k)))),
      shown.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, e.seq),
          h("td", {}, new Date(e.at_ms).toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB")),
          h("td", {}, e.caller?.user_id ?? ""),
          h("td", {}, e.caller?.org_id ?? ""),
          h("td", {}, familyText(e.what ?? "")),
          h("td", {}, maskIds(`${e.method ?? ""} ${e.path ?? ""}`)),
          h("td", {}, Array.isArray(e.ids) ? e.ids.length : ""),
          h("td", {}, `${e.status ?? ""} ${e.outcome ?? ""}`),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------------------------ start
let catalogueCache = null;
async function catalogueOnce() {
  if (!catalogueCache) catalogueCache = await (await fetch("/console/messages.json")).json();
  return catalogueCache;
}

async function start() {
  setLang(localStorage.getItem("orgledger.lang") || "zh");
  setCatalogue(await catalogueOnce());
  document.title = t("title");
  document.getElementById("title").textContent = t("title");
  const langButton = document.getElementById("lang");
  langButton.textContent = t("lang_switch");
  langButton.addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    localStorage.setItem("orgledger.lang", getLang());
    langButton.textContent = t("lang_switch");
    document.getElementById("title").textContent = t("title");
    if (app.session) renderShell();
    route();
  });
  window.addEventListener("hashchange", route);
  const m = location.hash.match(/^#token=([^&]+)/);
  if (m) {
    const token = decodeURIComponent(m[1]);
    history.replaceState(null, "", "/console/#/dashboard"); // the token leaves the address bar
    try {
      await signIn({ token });
      return;
    } catch (err) {
      return signInView(err);
    }
  }
  signInView();
}

start();
