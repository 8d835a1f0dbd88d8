// Talking to the node that served the page: every call authenticated in the page.
//
// - A key file (the JSON `orgledger keys` writes: {kind, public, secret}) is read into page memory
//   and never sent anywhere; each request is signed as wire/reqsign.py says (scheme 2): ed25519 in
//   the `api-request` domain over the canonical encoding of
//   [2, chain_id, node_id, METHOD, path_and_query, sha256(body), timestamp_ms, nonce, pubkey],
//   the node id being this node's (GET /v1/status), so the request is good for this node only.
// - Or a bearer token (`orgledger api token`, or `#token=...` in the console link).
// - Transactions (the alert actions) are signed in the page as wire/types.py TxBody / SignedTransaction
//   say and posted to /v1/tx; then the page waits for the committed status.

import * as ed from "@noble/ed25519";
import { canonical, hex, sha256, signBytes, unhex } from "./verify.js";

const enc = new TextEncoder();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function randomBytes(n) {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

/** A key file's text, checked (the public key must match the secret); kept in memory only. */
export function parseKeyFile(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("not a key file (expected the JSON that `orgledger keys` writes)");
  }
  if (!doc || doc.kind !== "ed25519") throw new Error("not an ed25519 key file");
  const secret = unhex(doc.secret, "the secret", 32);
  const pub = ed.getPublicKey(secret);
  if (hex(pub) !== String(doc.public).toLowerCase()) throw new Error("the key file's public key does not match its secret");
  return { secret, pub, label: doc.label || "" };
}

export class Session {
  constructor({ key = null, token = null, status }) {
    this.key = key;
    this.token = token;
    this.chainId = status.chain_id;
    this.nodeId = status.node_id;
  }

  headers(method, target, body) {
    if (this.token) return { authorization: `Bearer ${this.token}` };
    const ts = Date.now();
    const nonce = randomBytes(16);
    const msg = canonical([2, this.chainId, this.nodeId, method, target, sha256(body), ts, nonce, this.key.pub]);
    const sig = ed.sign(signBytes("api-request", this.chainId, msg), this.key.secret);
    return {
      "x-orgledger-key": hex(this.key.pub),
      "x-orgledger-audience": this.nodeId,
      "x-orgledger-time": String(ts),
      "x-orgledger-nonce": hex(nonce),
      "x-orgledger-signature": hex(sig),
    };
  }

  async request(method, target, body = null) {
    const bytes = body === null ? new Uint8Array(0) : enc.encode(JSON.stringify(body));
    const headers = this.headers(method, target, bytes);
    if (body !== null) headers["content-type"] = "application/json";
    const resp = await fetch(target, { method, headers, body: body === null ? undefined : bytes });
    let doc = null;
    try {
      doc = await resp.json();
    } catch {
      doc = null;
    }
    if (!resp.ok) {
      const err = (doc && doc.error) || {};
      throw new ApiError(resp.status, err.code || "http_error", err.message || `HTTP ${resp.status}`);
    }
    return doc;
  }

  get(target) {
    return this.request("GET", target);
  }

  /** Sign and submit a transaction of this key; resolves with its final status. */
  async submit(txType, orgId, payload) {
    if (!this.key) throw new Error("signing a transaction needs a key file (a token cannot sign)");
    const nonce = Number(BigInt.asUintN(53, BigInt("0x" + hex(randomBytes(8)))));
    const bodyBytes = canonical([1, 1, this.chainId, txType, orgId, this.key.pub, nonce, Date.now(), payload]);
    const signature = ed.sign(signBytes("tx", this.chainId, bodyBytes), this.key.secret);
    const raw = canonical([2, 1, bodyBytes, signature, []]);
    const txId = hex(sha256(bodyBytes));
    const resp = await fetch("/v1/tx", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tx: hex(raw) }),
    });
    const doc = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = doc.error || {};
      throw new ApiError(resp.status, err.code || "http_error", err.message || `HTTP ${resp.status}`);
    }
    for (let i = 0; i < 60; i++) {
      try {
        const st = await this.get(`/v1/tx/${txId}`);
        if (st.status !== "pending" && st.status !== "PENDING") return st;
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) throw err;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`transaction ${txId} not committed after 30 s`);
  }
}

export async function nodeStatus() {
  const resp = await fetch("/v1/status");
  if (!resp.ok) throw new Error(`GET /v1/status answered ${resp.status}`);
  return resp.json();
}
