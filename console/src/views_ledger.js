// The ledger views: the org tree with counts, a member's history, blocks with their certificates and
// transactions, the proof-bundle drop, and the access log.

import { ApiError, nodeStatus } from "./api.js";
import { checkBundle } from "./bundle.js";
import { familyText, getLang, t } from "./i18n.js";
import { allAlerts, alertFields } from "./views_alerts.js";
import { app, checked, errorBox, failBanner, h, kv, maskIds, okBanner, proven, shower } from "./ui.js";
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

// ------------------------------------------------------------------------------------ orgs
export async function orgsView() {
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
export async function memberView(pk) {
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
export async function blocksView(from) {
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
      const { header, certificate, validators } = await checked((anchor) =>
        certifiedHeader(anchor, height, unhex(doc.header_bytes), unhex(doc.certificate_bytes)),
      );
      cells = [
        h("td", {}, height),
        h("td", {}, new Date(header.timestampMs).toISOString()),
        h("td", {}, h("code", {}, hex(header.hash).slice(0, 16) + "…")),
        h("td", {}, header.proposer),
        h("td", {}, `${certificate.signatures.length}/${validators.keys.length}`),
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
    const { header, certificate } = await checked((anchor) =>
      certifiedHeader(anchor, height, unhex(hdr.header_bytes), unhex(hdr.certificate_bytes)),
    );
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
export async function bundleView() {
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

export async function accessLogView() {
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

