// Shared by the views: the session state, DOM helpers, the verification banners, `proven`, which
// fetches an answer with its proof and checks it in the page (verify.js), and `checked`, which runs
// a check against the validator epochs the page verified, learning them once from the node
// (`/v1/validators`, epochs.js) when a header names an epoch it does not know yet.

import { ApiError } from "./api.js";
import { t } from "./i18n.js";
import { withEpochs } from "./epochs.js";
import { VerificationError, verifyAnswer } from "./verify.js";

export const app = {
  session: null,
  anchor: null,
  anchorSource: "node",
  me: null,
  status: null,
  charts: [],
  current: null,
};

// ------------------------------------------------------------------------------------ DOM helpers
export function h(tag, attrs = {}, ...children) {
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

export function main() {
  return document.getElementById("main");
}

// A view renders only while it is the current one: a slow view that finishes after the user moved
// on (or after sign-in's first view) must not overwrite the newer one.
export function shower() {
  const mine = app.current;
  const fn = (...nodes) => {
    if (app.current === mine) show(...nodes);
  };
  fn.stale = () => app.current !== mine;
  return fn;
}

export function show(...nodes) {
  app.charts.forEach((c) => c.destroy());
  app.charts = [];
  main().replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
}

// ID numbers inside any text shown (wire/idnumber.py mask_text: 18 characters, first 6 and last 4 kept)
const ID_RUN = /(?<![0-9０-９])([0-9０-９]{6})[0-9０-９]{8}([0-9０-９]{3}[0-9０-９XxＸｘ])(?![0-9０-９])/g;
export function maskIds(text) {
  return String(text).replace(ID_RUN, (_, a, b) => `${a}********${b}`);
}

export function okBanner(state) {
  return h(
    "div",
    { class: "banner ok", "data-verified": "true" },
    h("strong", {}, `✔ ${t("verified")}`),
    " ",
    t("verified_detail", { q: state.certificate.signatures.length, h: state.height }),
  );
}

export function failBanner(err) {
  return h(
    "div",
    { class: "banner fail", "data-verified": "false", role: "alert" },
    h("strong", {}, `✘ ${t("not_verified")}`),
    " ",
    err instanceof ApiError ? `${err.code}: ${err.message}` : err.message || String(err),
  );
}

export function errorBox(err) {
  return h("div", { class: "banner error", role: "alert" }, err instanceof ApiError ? `${err.code}: ${err.message}` : String(err.message || err));
}

export function inScope(orgId) {
  const scope = app.me.org_id;
  if (app.me.kind === "node" || !scope.includes(".")) return true;
  return orgId === scope || String(orgId).startsWith(scope + ".");
}

/** `check(anchor)` with the page's anchor; on an epoch it does not know, learn the epochs, check again. */
export function checked(check) {
  return withEpochs(app, () => app.session.get("/v1/validators"), check);
}

/**
 * GET `target` with proof=true and verify it in the page. A refusal by the node because its data
 * disagrees with its certified state (index_inconsistent, storage_corrupt) is a failed check as well.
 */
export async function proven(target) {
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
  const { state, items } = await checked((anchor) => verifyAnswer(anchor, doc));
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


export function kv(obj) {
  return h(
    "table",
    { class: "kv" },
    Object.entries(obj).map(([k, v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, maskIds(typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)))),
    ),
  );
}


let catalogueCache = null;
export async function catalogueOnce() {
  if (!catalogueCache) catalogueCache = await (await fetch("/console/messages.json")).json();
  return catalogueCache;
}
