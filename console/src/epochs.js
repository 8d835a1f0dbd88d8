// Validator-set epochs in the page: the chain of set changes a node serves at `/v1/validators`,
// verified from the genesis the page trusts, and the "learn once and check again" step.
//
// A port of the Python code it must agree with (the cross-check test runs both on the same real and
// forged chains, tests/integration/test_console.py):
//   wire/epochs.py        EpochProof.from_json (start, keys, boundary header and certificate, hex)
//                         and verify_epoch_chain: for each epoch after genesis, its boundary
//                         B = start - 1 is a checkpoint height (a multiple of the genesis
//                         checkpoint_interval) after the previous epoch's start; its keys are a
//                         validator set; the header decodes, is of this chain and height B, names
//                         the previous set as in force and the new one as next; the certificate
//                         holds a quorum of the previous set over the header's hash. At most 4096.
//   client_sdk/proofs.py  TrustAnchor.extended / from_validators_doc: the chain is verified from
//                         the genesis set, and must keep every epoch verified before.
//   client_sdk/aio.py     _with_epochs: a check that fails with UnknownEpochError (a header naming
//                         a set the anchor does not know in force) makes the caller fetch
//                         `/v1/validators` once, learn the epochs and run the check again; a node
//                         can withhold a later epoch (the check then fails), never forge one.
// Pure but for the fetch the caller passes in.

import {
  decodeCertificate,
  decodeHeader,
  equal,
  sha256,
  UnknownEpochError,
  unhex,
  validatorSet,
  VerificationError,
  verifyCertificate,
} from "./verify.js";

const MAX_EPOCHS = 4096;
const MAX_KEYS = 256;

/** One epoch proof of a `/v1/validators` answer (wire/epochs.py EpochProof.from_json). */
export function epochProofFromJson(doc) {
  const malformed = (why) => new VerificationError(`malformed epoch proof: ${why}`);
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw malformed("an epoch proof is an object");
  const { start, validators } = doc;
  if (!Number.isSafeInteger(start) || !Array.isArray(validators) || validators.length > MAX_KEYS) {
    throw malformed("start is an integer, validators a list of keys");
  }
  const hexOf = (v, what) => {
    try {
      return unhex(v, what);
    } catch (err) {
      throw malformed(err.message);
    }
  };
  const keys = validators.map((k) => hexOf(k, "a validator key"));
  if (keys.some((k) => k.length !== 32)) throw malformed("validator keys are 32 bytes");
  return {
    start,
    validators: keys,
    headerBytes: hexOf(doc.boundary_header, "the boundary header"),
    certificateBytes: hexOf(doc.boundary_certificate, "the boundary certificate"),
  };
}

/** The epochs from genesis proven by `proofs` (in start order); VerificationError names the first flaw. */
export function verifyEpochChain(chainId, genesisSet, checkpointInterval, proofs) {
  if (proofs.length > MAX_EPOCHS) throw new VerificationError(`more than ${MAX_EPOCHS} epochs`);
  const epochs = [{ fromHeight: 1, validators: genesisSet }];
  for (const proof of proofs) {
    const prev = epochs[epochs.length - 1];
    const boundary = proof.start - 1;
    if (boundary <= prev.fromHeight - 1 || boundary % checkpointInterval !== 0 || boundary < 1) {
      throw new VerificationError(
        `epoch from ${proof.start}: its boundary ${boundary} is not a checkpoint height after the epoch from ${prev.fromHeight}`,
      );
    }
    const fail = (err) => new VerificationError(`epoch from ${proof.start}: ${err.message}`);
    let next;
    let header;
    let cert;
    try {
      next = validatorSet(proof.validators);
    } catch (err) {
      throw fail(err);
    }
    try {
      header = decodeHeader(proof.headerBytes);
      cert = decodeCertificate(proof.certificateBytes);
    } catch (err) {
      throw new VerificationError(`epoch from ${proof.start}: boundary does not decode: ${err.message}`);
    }
    if (header.chainId !== chainId || header.height !== boundary) {
      throw new VerificationError(`epoch from ${proof.start}: the boundary header is not block ${boundary}`);
    }
    if (!equal(header.validatorsHash, prev.validators.hash)) {
      throw new VerificationError(`block ${boundary} does not name the set of the epoch from ${prev.fromHeight}`);
    }
    if (!equal(header.nextValidatorsHash, next.hash)) {
      throw new VerificationError(`block ${boundary} does not name the set of the epoch from ${proof.start}`);
    }
    try {
      verifyCertificate(cert, prev.validators, chainId, boundary, sha256(proof.headerBytes));
    } catch (err) {
      throw fail(err);
    }
    epochs.push({ fromHeight: proof.start, validators: next });
  }
  return epochs;
}

/** The anchor with the epochs `proofs` prove from its genesis set (TrustAnchor.extended). */
export function extendAnchor(anchor, proofs) {
  let epochs;
  try {
    epochs = verifyEpochChain(anchor.chainId, anchor.epochs[0].validators, anchor.checkpointInterval, proofs);
  } catch (err) {
    throw new VerificationError(`the validator epochs do not verify: ${err.message}`);
  }
  const same = (a, b) => a.fromHeight === b.fromHeight && equal(a.validators.hash, b.validators.hash);
  if (epochs.length < anchor.epochs.length || !anchor.epochs.every((e, i) => same(e, epochs[i]))) {
    throw new VerificationError("the validator epochs contradict the ones already verified");
  }
  return { ...anchor, epochs, proofs };
}

/** The anchor extended from a node's `GET /v1/validators` answer (TrustAnchor.from_validators_doc). */
export function learnEpochs(anchor, doc) {
  if (!doc || typeof doc !== "object" || !Array.isArray(doc.epochs)) {
    throw new VerificationError("the node's validators document is malformed");
  }
  return extendAnchor(anchor, doc.epochs.map(epochProofFromJson));
}

/**
 * Run `check(anchor)` with `ref.anchor`; when it fails with UnknownEpochError, fetch the node's
 * validators document (`fetchValidators()`), verify its epochs from genesis into `ref.anchor` and
 * run the check once more. Whatever does not verify throws.
 */
export async function withEpochs(ref, fetchValidators, check) {
  try {
    return check(ref.anchor);
  } catch (err) {
    if (!(err instanceof UnknownEpochError)) throw err;
  }
  ref.anchor = learnEpochs(ref.anchor, await fetchValidators());
  return check(ref.anchor);
}

/** An anchor of the genesis set only, with the epochs a proof bundle brings (client_sdk/proofs.py
 * _bundle_anchor): [{from_height, validators, boundary_header, boundary_certificate}] as bytes. */
export function bundleAnchor(anchor, sets) {
  const genesisOnly = { ...anchor, epochs: anchor.epochs.slice(0, 1), proofs: [] };
  const fields = ["boundary_certificate", "boundary_header", "from_height", "validators"];
  const proofs = sets.map((e) => {
    if (!e || typeof e !== "object" || Object.keys(e).sort().join() !== fields.join()) {
      throw new VerificationError(`a validator set of the bundle has other fields than ${fields.join(", ")}`);
    }
    if (!Number.isSafeInteger(Number(e.from_height)) || !Array.isArray(e.validators)) {
      throw new VerificationError("a validator set of the bundle is malformed");
    }
    for (const v of [e.boundary_header, e.boundary_certificate, ...e.validators]) {
      if (!(v instanceof Uint8Array)) throw new VerificationError("a validator set of the bundle holds something other than bytes");
    }
    return { start: Number(e.from_height), validators: e.validators, headerBytes: e.boundary_header, certificateBytes: e.boundary_certificate };
  });
  return extendAnchor(genesisOnly, proofs);
}

export { UnknownEpochError };
