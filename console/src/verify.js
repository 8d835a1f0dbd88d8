// The console's verifier: the page checks every proven answer itself before it shows 已验证.
//
// A port of the Python checkers it must agree with (a test runs both on the same real and forged
// answers, tests/integration/test_console.py):
//   wire/crypto.py        sign_bytes: "orgledger/" + domain + NUL + len(chain id) + chain id + payload
//   wire/certificate.py   a validator set is 1..256 distinct 32-byte keys, its hash the SHA-256 of
//                         the canonical [keys]; a quorum q = ceil((n + f + 1) / 2) of distinct
//                         validators, each a valid `commit` signature over
//                         commit_vote_bytes(height, view, block_hash)
//   client_sdk/proofs.py  the header decodes, is of this chain, this height, names the validator
//                         set the anchor knows in force at that height (else UnknownEpochError:
//                         the caller learns the epochs, epochs.js, and checks again once), and its
//                         hash (SHA-256 of its bytes) is the certificate's block hash
//   client_sdk/readproofs.py  the state of height v is certified by block max(1, v + exec_lag)
//                         whose header carries the root as prev_state_root
//   wire/stateproofs.py   ProofView: value_hash(key) and range(lo, hi) over node preimages
//
// The anchor (what the page trusts): a genesis, and the validator epochs verified from it
// (`anchorOf` gives the genesis epoch only; epochs.js extends it from `/v1/validators`).
// Signatures are checked with @noble/ed25519 in its strict RFC 8032 mode ({zip215: false}),
// as libsodium (PyNaCl) checks them: a signature has exactly one accepted byte form.
// Pure: no DOM, no network; it runs in the browser and under node (the cross-check test).

import { decode, encode } from "@msgpack/msgpack";
import * as ed from "@noble/ed25519";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

export class VerificationError extends Error {
  constructor(message) {
    super(message);
    this.name = "VerificationError";
  }
}

/** A header names another validator set than the one the anchor knows in force at its height:
 * an epoch the page has not verified yet (client_sdk.errors.UnknownEpochError). */
export class UnknownEpochError extends VerificationError {
  constructor(message) {
    super(message);
    this.name = "UnknownEpochError";
  }
}

const TAG_HEADER = 3;
const TAG_CERTIFICATE = 5;
const TAG_COMMIT_VOTE = 7;
const LEAF = 0;
const BRANCH = 1;
const SLOTS = 17;
const enc = new TextEncoder();
export const EMPTY_ROOT = sha256(enc.encode("orgledger/statemap/empty"));

// ------------------------------------------------------------------------------------ bytes
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(text, what = "a value", size = null) {
  if (typeof text !== "string" || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new VerificationError(`${what} is not hex`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  if (size !== null && out.length !== size) throw new VerificationError(`${what} is not ${size} bytes`);
  return out;
}

export function equal(a, b) {
  if (a === null || b === null || a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function compare(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The canonical msgpack of `value` (lists, ints, str, bytes, null, bool, maps with str keys), as
 * wire/codec.py writes it: the shortest form msgpack-python emits; maps with sorted keys. */
export function canonical(value) {
  return encode(shortest(value), { useBigInt64: true });
}

// @msgpack/msgpack writes a bigint always in 9 bytes and (with useBigInt64) a Number past 32 bits
// as a float: so integers within 32 bits go as Numbers, larger ones as bigints (uint64 / int64,
// which is what msgpack-python writes for them).
function shortest(value) {
  if (typeof value === "number" && Number.isInteger(value)) {
    return value >= -0x80000000 && value < 0x100000000 ? value : BigInt(value);
  }
  if (typeof value === "bigint") {
    return value >= -0x80000000n && value < 0x100000000n ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(shortest);
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
    // a map (a transaction payload): keys in UTF-8 byte order, as wire/codec.py requires; JS keeps
    // insertion order for non-numeric keys, which payload field names are
    const out = {};
    for (const k of Object.keys(value).sort((a, b) => compare(enc.encode(a), enc.encode(b)))) {
      if (/^[0-9]+$/.test(k)) throw new Error("a numeric map key cannot be encoded in order");
      if (value[k] !== undefined) out[k] = shortest(value[k]);
    }
    return out;
  }
  return value; // str, bytes, bool, null
}

function decodeStrict(bytes, what) {
  let value;
  try {
    value = decode(bytes, { useBigInt64: true });
  } catch (err) {
    throw new VerificationError(`${what} does not decode (${err.message})`);
  }
  if (!equal(canonical(value), bytes)) throw new VerificationError(`${what} is not canonical`);
  return value;
}

function int(v, what) {
  if (typeof v === "bigint") {
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VerificationError(`${what} is out of range`);
    return Number(v);
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new VerificationError(`${what} is not an integer`);
  return v;
}

function bin(v, what, size) {
  if (!(v instanceof Uint8Array) || (size !== undefined && v.length !== size)) {
    throw new VerificationError(`${what} is not ${size ?? "some"} bytes`);
  }
  return v;
}

// ------------------------------------------------------------------------------------ signatures
export function signBytes(domain, chainId, payload) {
  const cid = enc.encode(chainId);
  if (cid.length < 1 || cid.length > 64) throw new VerificationError("a chain id is 1..64 bytes");
  return concat(enc.encode(`orgledger/${domain}`), Uint8Array.of(0, cid.length), cid, payload);
}

export function verifySignature(domain, chainId, pubkey, payload, signature) {
  if (pubkey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed.verify(signature, signBytes(domain, chainId, payload), pubkey, { zip215: false });
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------ the trust anchor
const MAX_VALIDATORS = 256;

export function quorumSize(n) {
  const f = Math.floor((n - 1) / 3);
  return Math.floor((n + f + 2) / 2);
}

/** A validator set (wire/certificate.py ValidatorSet): its keys in index order, hash and quorum. */
export function validatorSet(keys) {
  if (!(keys.length > 0 && keys.length <= MAX_VALIDATORS)) throw new VerificationError(`a validator set has 1..${MAX_VALIDATORS} members`);
  if (keys.some((k) => !(k instanceof Uint8Array) || k.length !== 32)) throw new VerificationError("validator keys are 32-byte ed25519 public keys");
  if (new Set(keys.map(hex)).size !== keys.length) throw new VerificationError("a validator key appears twice");
  return { keys, hash: sha256(canonical([keys])), quorum: quorumSize(keys.length) };
}

/** What the page trusts: a genesis.json (chain id, exec_lag, checkpoint interval, the validators'
 * keys), as its first and only epoch; epochs.js extends it with the epochs verified from it. */
export function anchorOf(genesis) {
  if (!genesis || typeof genesis.chain_id !== "string") throw new VerificationError("not a genesis document");
  // wire/genesis.py: the validator set is the genesis nodes of role "validator", in order
  const validators = (genesis.nodes || [])
    .filter((n) => n.role === "validator")
    .map((n) => unhex(n.pubkey, "a validator key", 32));
  if (validators.length < 1) throw new VerificationError("the genesis names no validator");
  const consensus = genesis.consensus || {};
  const lag = int(consensus.exec_lag ?? 2, "exec_lag");
  const interval = int(consensus.checkpoint_interval ?? 16, "checkpoint_interval");
  if (interval < 1) throw new VerificationError("checkpoint_interval is at least 1");
  return {
    chainId: genesis.chain_id,
    execLag: lag,
    checkpointInterval: interval,
    epochs: [{ fromHeight: 1, validators: validatorSet(validators) }],
    proofs: [],
  };
}

/** The set of the epoch with the largest start <= `height` (TrustAnchor.validators_at). */
export function validatorsAt(anchor, height) {
  let chosen = null;
  for (const epoch of anchor.epochs) if (epoch.fromHeight <= height) chosen = epoch.validators;
  if (chosen === null) throw new VerificationError(`no validator set is in force at height ${height}`);
  return chosen;
}

// ------------------------------------------------------------------------------------ headers and certificates
export function decodeHeader(bytes) {
  const v = decodeStrict(bytes, "the header");
  if (!Array.isArray(v) || v.length !== 13 || v[0] !== TAG_HEADER || v[1] !== 2) {
    throw new VerificationError("the header is not a version-2 block header");
  }
  return {
    chainId: v[2],
    height: int(v[3], "height"),
    view: int(v[4], "view"),
    timestampMs: int(v[5], "timestamp"),
    prevBlockHash: bin(v[6], "prev_block_hash", 32),
    txRoot: bin(v[7], "tx_root", 32),
    prevStateRoot: bin(v[8], "prev_state_root", 32),
    prevResultsRoot: bin(v[9], "prev_results_root", 32),
    validatorsHash: bin(v[10], "validators_hash", 32),
    proposer: int(v[11], "proposer"),
    // the set in force at the next height (wire/epochs.py): the last header of an epoch, certified
    // by its set, names the next one (epochs.js checks the boundaries)
    nextValidatorsHash: bin(v[12], "next_validators_hash", 32),
    hash: sha256(bytes),
  };
}

export function decodeCertificate(bytes) {
  const v = decodeStrict(bytes, "the certificate");
  if (!Array.isArray(v) || v.length !== 6 || v[0] !== TAG_CERTIFICATE || v[1] !== 1 || !Array.isArray(v[5])) {
    throw new VerificationError("the certificate is not a version-1 commit certificate");
  }
  const signatures = v[5].map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new VerificationError("a signature entry is [index, signature]");
    return [int(pair[0], "validator index"), bin(pair[1], "signature", 64)];
  });
  return { height: int(v[2], "height"), view: int(v[3], "view"), blockHash: bin(v[4], "block_hash", 32), signatures };
}

/** wire/certificate.py verify_certificate: a quorum of `validators` committed `blockHash` at `height`. */
export function verifyCertificate(cert, validators, chainId, height, blockHash) {
  if (cert.height !== height) throw new VerificationError(`the certificate is for height ${cert.height}, expected ${height}`);
  if (!equal(cert.blockHash, blockHash)) throw new VerificationError(`the certificate of block ${height} is for another block hash`);
  const vote = canonical([TAG_COMMIT_VOTE, 1, cert.height, cert.view, cert.blockHash]);
  const seen = new Set();
  for (const [index, signature] of cert.signatures) {
    if (seen.has(index)) throw new VerificationError(`validator ${index} signs twice`);
    if (index >= validators.keys.length) throw new VerificationError(`validator index ${index} is not in the set of ${validators.keys.length}`);
    if (!verifySignature("commit", chainId, validators.keys[index], vote, signature)) {
      throw new VerificationError(`the signature of validator ${index} does not verify at height ${height}`);
    }
    seen.add(index);
  }
  if (seen.size < validators.quorum) {
    throw new VerificationError(`block ${height} has ${seen.size} signatures, the quorum is ${validators.quorum}`);
  }
}

/** Block `height`'s header, its certificate verified against the set the anchor knows in force at
 * that height (client_sdk/proofs.py certified_header); UnknownEpochError when the header names
 * another set. Returns the header, the certificate and that set. */
export function certifiedHeader(anchor, height, headerBytes, certBytes) {
  const header = decodeHeader(headerBytes);
  if (header.chainId !== anchor.chainId) throw new VerificationError(`block ${height} belongs to chain ${header.chainId}`);
  if (header.height !== height) throw new VerificationError(`the header is for height ${header.height}, expected ${height}`);
  const validators = validatorsAt(anchor, height);
  if (!equal(header.validatorsHash, validators.hash)) {
    throw new UnknownEpochError(`block ${height} names another validator set than the one known in force`);
  }
  const certificate = decodeCertificate(certBytes);
  verifyCertificate(certificate, validators, anchor.chainId, height, header.hash);
  return { header, certificate, validators };
}

// ------------------------------------------------------------------------------------ state-map proofs
export function symbols(key) {
  const out = new Uint8Array(key.length * 2 + 1);
  key.forEach((b, i) => {
    out[2 * i] = (b >> 4) + 1;
    out[2 * i + 1] = (b & 15) + 1;
  });
  return out; // ends with the terminator 0
}

function parsePreimage(p) {
  const fail = () => {
    throw new VerificationError("a malformed proof node");
  };
  if (p.length < 1) fail();
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p[0] === LEAF) {
    if (p.length < 5) fail();
    const klen = dv.getUint32(1);
    if (p.length !== 5 + klen + 32) fail();
    return { leaf: true, key: p.subarray(5, 5 + klen), valueHash: p.subarray(5 + klen) };
  }
  if (p[0] !== BRANCH || p.length < 3) fail();
  const plen = dv.getUint16(1);
  if (p.length < 3 + plen + 4) fail();
  const prefix = p.subarray(3, 3 + plen);
  let pos = 3 + plen;
  const bitmap = dv.getUint32(pos);
  pos += 4;
  const hashes = [];
  for (let slot = 0; slot < SLOTS; slot++) {
    if ((bitmap >>> slot) & 1) {
      if (pos + 32 > p.length) fail();
      hashes.push(p.subarray(pos, pos + 32));
      pos += 32;
    } else hashes.push(null);
  }
  if (pos !== p.length || bitmap >>> SLOTS || prefix.some((s) => s > 16)) fail();
  return { leaf: false, prefix, hashes };
}

function intersects(path, lo, hi) {
  const n = path.length;
  if (compare(path, lo.subarray(0, n)) < 0) return false;
  if (hi === null) return true;
  const h = hi.subarray(0, n);
  return compare(path, h) < 0 || (equal(path, h) && hi.length > n);
}

function startsWith(s, prefix) {
  return s.length >= prefix.length && equal(s.subarray(0, prefix.length), prefix);
}

/** wire/stateproofs.py ProofView: what a list of node preimages proves under `root`. */
export class ProofView {
  constructor(root, preimages) {
    this.root = root;
    this.nodes = new Map(preimages.map((p) => [hex(sha256(p)), p]));
  }

  node(h) {
    const p = this.nodes.get(hex(h));
    if (p === undefined) throw new VerificationError("the proof does not cover this key or range (a node is missing)");
    return parsePreimage(p);
  }

  /** The hash of `key`'s value, or null when the proof shows the key absent. */
  valueHash(key) {
    if (equal(this.root, EMPTY_ROOT)) return null;
    const sym = symbols(key);
    let h = this.root;
    let path = new Uint8Array(0);
    while (h !== null) {
      const node = this.node(h);
      if (node.leaf) return equal(node.key, key) ? node.valueHash : null;
      const full = concat(path, node.prefix);
      if (!startsWith(sym, full)) return null;
      const slot = sym[full.length];
      h = node.hashes[slot];
      path = concat(full, Uint8Array.of(slot));
    }
    return null;
  }

  /** Every [key, value hash] with lo <= key < hi (hi null: no bound), complete. */
  range(lo, hi) {
    const loS = symbols(lo);
    const hiS = hi === null ? null : symbols(hi);
    const out = [];
    if (equal(this.root, EMPTY_ROOT)) return out;
    const stack = [[this.root, new Uint8Array(0)]];
    while (stack.length) {
      const [h, path] = stack.pop();
      const node = this.node(h);
      if (node.leaf) {
        const s = symbols(node.key);
        if (!startsWith(s, path)) throw new VerificationError("a proof leaf sits outside its path");
        if (compare(s, loS) >= 0 && (hiS === null || compare(s, hiS) < 0)) out.push([node.key, node.valueHash]);
        continue;
      }
      const full = concat(path, node.prefix);
      if (!intersects(full, loS, hiS)) continue;
      for (let slot = SLOTS - 1; slot >= 0; slot--) {
        const ch = node.hashes[slot];
        if (ch === null) continue;
        const cpath = concat(full, Uint8Array.of(slot));
        if (intersects(cpath, loS, hiS)) stack.push([ch, cpath]);
      }
    }
    return out;
  }
}

// ------------------------------------------------------------------------------------ answers
/** The checked `proof` of an answer (client_sdk/readproofs.py ReadVerifier.state). */
export function provenState(anchor, doc) {
  const proof = doc && doc.proof;
  if (!proof || typeof proof !== "object") throw new VerificationError("the node sent no proof with its answer");
  const v = int(proof.height, "the proven height");
  const w = int(proof.reflects, "the height the answer reflects");
  if (w < v) throw new VerificationError("the answer reflects a height below the proven one");
  const root = unhex(proof.state_root, "the state root", 32);
  const anc = proof.anchor || {};
  const a = int(anc.height, "the anchor height");
  if (a !== Math.max(1, v + anchor.execLag)) {
    throw new VerificationError(`the state of height ${v} is certified by block ${v + anchor.execLag}, not ${a}`);
  }
  const { header, certificate } = certifiedHeader(
    anchor,
    a,
    unhex(anc.header_bytes, "the anchor header"),
    unhex(anc.certificate_bytes, "the certificate"),
  );
  if (!equal(header.prevStateRoot, root)) throw new VerificationError(`block ${a} does not carry the proven state root`);
  if (!Array.isArray(proof.nodes)) throw new VerificationError("the proof nodes are not a list");
  const nodes = proof.nodes.map((n) => unhex(n, "a proof node"));
  return { height: v, reflects: w, root, anchorHeight: a, header, certificate, view: new ProofView(root, nodes) };
}

/** The item's value bytes checked against the proof of its state key; null for a hash-only item. */
export function provenValue(state, key, item) {
  const proven = state.view.valueHash(enc.encode(key));
  if (proven === null) throw new VerificationError(`the proof shows ${key} absent, the node served it`);
  if (item.value === undefined || item.value === null) {
    if (item.record !== undefined && item.record !== null) {
      throw new VerificationError(`${key}: contents without the bytes to check them`);
    }
    if (!equal(unhex(item.value_hash, "value_hash", 32), proven)) {
      throw new VerificationError(`${key}: the value hash does not match its proof`);
    }
    return null;
  }
  const raw = unhex(item.value, "value");
  if (!equal(sha256(raw), proven)) throw new VerificationError(`${key}: the value does not match its proof`);
  return raw;
}

/** A plain JSON-able copy of a decoded msgpack value (bytes as hex, big ints as numbers). */
export function plain(value) {
  if (value instanceof Uint8Array) return hex(value);
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The record a state entry holds, decoded from its proven bytes (never the node's rendering). */
export function recordOf(raw, key) {
  // the bytes are already proven (their hash); decoding them is only to show them
  try {
    return plain(decode(raw, { useBigInt64: true }));
  } catch (err) {
    throw new VerificationError(`${key}: the proven value does not decode (${err.message})`);
  }
}

/**
 * Check one answer of the read API fetched with `proof=true`: the proof, then each item (the
 * state key `state_key`, or `org/<id>` for orgs, `user/<pubkey>` for users). Returns the items
 * rebuilt from their proven bytes (`_record`) and the proven height; throws VerificationError.
 */
export function verifyAnswer(anchor, doc) {
  const state = provenState(anchor, doc);
  const items = doc.item !== undefined ? [doc.item] : doc.items || [];
  const checked = items.map((item) => {
    const key = item.state_key ?? (item.org_id !== undefined && item.pubkey === undefined ? `org/${item.org_id}` : `user/${item.pubkey}`);
    const raw = provenValue(state, key, item);
    return { ...item, _key: key, _record: raw === null ? null : recordOf(raw, key) };
  });
  return { state, items: checked };
}

export { sha256 };

// ------------------------------------------------------------------------------------ RFC 6962 (wire/merkle.py)
export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** The tree head over `leaves` (the tx root of a block). */
export function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  let level = leaves.map(leafHash);
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

/** RFC 9162 2.1.3.2, as wire/merkle.py verify_inclusion (false on hostile input, never throws). */
export function verifyInclusion(leaf, index, treeSize, proof, root) {
  if (!(index >= 0 && index < treeSize) || leaf.length !== 32 || root.length !== 32) return false;
  if (proof.some((p) => !(p instanceof Uint8Array) || p.length !== 32)) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

/** A block entry's transaction id (wire/txproof.py tx_id_of): the hash of the signed body bytes. */
export function txIdOf(raw) {
  try {
    const v = decode(raw, { useBigInt64: true });
    if (Array.isArray(v) && v[0] === 2 && v[1] === 1 && v[2] instanceof Uint8Array && equal(canonical(v), raw)) {
      return sha256(v[2]);
    }
  } catch {
    // a block entry that does not decode is identified by the hash of its bytes
  }
  return sha256(raw);
}

export { decode as decodeMsgpack };
