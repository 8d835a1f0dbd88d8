// The console: sign-in and routing (the views: views_alerts.js, views_ledger.js; helpers: ui.js).
// docs/console.md says what it shows and what it verifies.
//
// Rules the views keep:
// - Whatever a view shows of ledger state comes from the proven bytes of an answer fetched with
//   `proof=true` and checked in this page (verify.js): the node's JSON rendering is used only to
//   find those bytes. An answer that fails the check (or that the node refuses to back) shows the
//   red 未通过验证 banner with the reason, never the data.
// - A filter is checked against the proven records too: an item the node returns that does not
//   match it, or that lies outside the caller's subtree, fails the answer.
// - DOM is built with textContent only (no innerHTML of node data).


import { nodeStatus, parseKeyFile, Session } from "./api.js";
import { getLang, setCatalogue, setLang, t } from "./i18n.js";
import { app, catalogueOnce, errorBox, h, show } from "./ui.js";
import { alertsView, alertView, dashboardView, recordView } from "./views_alerts.js";
import { accessLogView, blocksView, bundleView, memberView, orgsView } from "./views_ledger.js";
import { anchorOf } from "./verify.js";

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
