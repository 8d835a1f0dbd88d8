// A proof bundle (`orgledger audit prove`, client_sdk/proofs.py make_bundle) checked in the page:
// the same steps as client_sdk/proofs.py verify_tx_proof, against the genesis the page trusts (the
// one it signed in with), not the one the bundle brings along: the bundle's first validator set
// must be that genesis set, and the later epochs a version 2 bundle carries are verified from it
// (epochs.js) before a certificate of theirs counts.

import { bundleAnchor } from "./epochs.js";
import { certifiedHeader, decodeHeader, decodeMsgpack, equal, hex, leafHash, sha256, txIdOf, VerificationError, verifyInclusion } from "./verify.js";

const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

function want(doc, key, kind) {
  const v = doc[key];
  const ok =
    kind === "bytes" ? v instanceof Uint8Array : kind === "int" ? typeof v === "number" || typeof v === "bigint" : kind === "list" ? Array.isArray(v) : typeof v === kind;
  if (!ok) throw new VerificationError(`bundle field ${key} has the wrong type`);
  return kind === "int" ? Number(v) : v;
}

export function checkBundle(pageAnchor, data) {
  if (data.length > MAX_BUNDLE_BYTES) throw new VerificationError(`a proof bundle is at most ${MAX_BUNDLE_BYTES} bytes`);
  let doc;
  try {
    doc = decodeMsgpack(data, { useBigInt64: true });
  } catch (err) {
    throw new VerificationError(`not a proof bundle (${err.message})`);
  }
  if (!doc || doc.format !== "orgledger/proof-bundle") throw new VerificationError("not a proof bundle (format)");
  const version = Number(doc.version);
  if (version !== 1 && version !== 2) throw new VerificationError(`unsupported bundle version ${doc.version}`);
  const genesis = doc.genesis || {};
  if (genesis.chain_id !== pageAnchor.chainId) throw new VerificationError(`the bundle is of chain ${genesis.chain_id}, not ${pageAnchor.chainId}`);
  const sets = want(doc, "validator_sets", "list");
  if (sets.length < 1 || (version === 1 && sets.length !== 1)) throw new VerificationError(`a version ${version} bundle lists ${sets.length} validator sets`);
  const trusted = pageAnchor.epochs[0].validators.keys;
  const first = sets[0] || {};
  const keys = Array.isArray(first.validators) ? first.validators : [];
  if (Number(first.from_height) !== 1 || keys.length !== trusted.length || !keys.every((k, i) => equal(k, trusted[i]))) {
    throw new VerificationError("the bundle's first validator set is not the genesis set this page trusts");
  }
  const anchor = bundleAnchor(pageAnchor, sets.slice(1));
  const p = doc.proof || {};
  if (p.kind !== "tx") throw new VerificationError(`unknown proof kind ${p.kind}`);
  const h = want(p, "block_height", "int");
  const headerBytes = want(p, "header", "bytes");
  const { header } = certifiedHeader(anchor, h, headerBytes, want(p, "certificate", "bytes"));
  const tx = want(p, "tx", "bytes");
  const txId = want(p, "tx_id", "bytes");
  if (!equal(txIdOf(tx), txId)) throw new VerificationError("the proven transaction bytes have another transaction id");
  const index = want(p, "tx_index", "int");
  const size = want(p, "tx_tree_size", "int");
  if (!verifyInclusion(leafHash(tx), index, size, want(p, "tx_path", "list"), header.txRoot)) {
    throw new VerificationError(`the inclusion proof does not lead to the tx root of block ${h}`);
  }
  const rootHeight = want(p, "root_height", "int");
  if (rootHeight !== h + anchor.execLag) throw new VerificationError(`the receipt of block ${h} is carried by block ${h + anchor.execLag}`);
  const links = want(p, "link_headers", "list");
  if (links.length !== anchor.execLag - 1) throw new VerificationError(`expected ${anchor.execLag - 1} linking headers`);
  let prevHash = sha256(headerBytes);
  let prevTime = header.timestampMs;
  links.forEach((raw, i) => {
    const link = decodeHeader(raw);
    if (link.chainId !== anchor.chainId || link.height !== h + i + 1) throw new VerificationError(`linking header ${h + i + 1} is for another chain or height`);
    if (!equal(link.prevBlockHash, prevHash) || link.timestampMs <= prevTime) throw new VerificationError(`header of block ${h + i + 1} does not follow block ${h + i}`);
    prevHash = sha256(raw);
    prevTime = link.timestampMs;
  });
  const { header: rootHeader } = certifiedHeader(anchor, rootHeight, want(p, "root_header", "bytes"), want(p, "root_certificate", "bytes"));
  if (!equal(rootHeader.prevBlockHash, prevHash) || rootHeader.timestampMs <= prevTime) {
    throw new VerificationError(`header of block ${rootHeight} does not follow block ${rootHeight - 1}`);
  }
  const receiptBytes = want(p, "receipt", "bytes");
  const receipt = decodeMsgpack(receiptBytes, { useBigInt64: true });
  if (!Array.isArray(receipt) || receipt[0] !== 6 || !equal(receipt[2], txId)) throw new VerificationError("the receipt is for another transaction");
  if (want(p, "receipt_index", "int") !== index || want(p, "receipt_tree_size", "int") !== size) {
    throw new VerificationError("the receipt's position differs from the transaction's");
  }
  if (!verifyInclusion(leafHash(receiptBytes), index, size, want(p, "receipt_path", "list"), rootHeader.prevResultsRoot)) {
    throw new VerificationError(`the receipt's inclusion proof does not lead to the results root of block ${rootHeight}`);
  }
  let body = [];
  try {
    const signed = decodeMsgpack(tx, { useBigInt64: true });
    body = decodeMsgpack(signed[2], { useBigInt64: true });
  } catch {
    body = []; // a block entry that does not decode: its receipt says `malformed`
  }
  return {
    tx_id: hex(txId),
    tx_type: body[3] ?? "",
    org_id: body[4] ?? "",
    block_height: h,
    block_time: new Date(header.timestampMs).toISOString(),
    receipt_status: receipt[3],
    rule_id: receipt[4] ?? "",
    reason_code: receipt[5] ?? "",
    receipt_proven_by_block: rootHeight,
  };
}
