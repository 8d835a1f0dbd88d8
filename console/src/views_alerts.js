// The alert views: the dashboard (charts by date and colour, by rule), the filtered list, one
// alert with its actions (transactions signed in the page), and any record an alert refers to.

import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import { colourText, familyText, getLang, reasonText, ruleTitle, setCatalogue, setLang, stateText, t } from "./i18n.js";
import { app, catalogueOnce, errorBox, failBanner, h, kv, maskIds, okBanner, proven, shower } from "./ui.js";
import { hex, sha256, VerificationError } from "./verify.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// ------------------------------------------------------------------------------------ alerts
export async function allAlerts(filter = "") {
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

export function alertFields(item) {
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

export async function dashboardView() {
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

export async function alertsView(_, params) {
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


// state key of a record reference -> the console route that shows it
const FAMILY_PATHS = { archive: "archives", doc: "materials", pipeline: "pipelines", transfer: "transfers", meeting: "meetings", decision: "decisions", alert: "alerts" };
function refLink(ref) {
  const [prefix, ...rest] = String(ref).split("/");
  const path = FAMILY_PATHS[prefix];
  if (!path) return h("code", {}, ref);
  return h("a", { href: `#/record/${path}/${rest.join("/")}`, class: "record-ref" }, ref);
}

export async function alertView(id) {
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

export async function recordView(path) {
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

