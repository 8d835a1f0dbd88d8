import assert from "node:assert/strict";
import { test } from "node:test";
import { withEpochs } from "../src/epochs.js";
import { canonical, hex, quorumSize, symbols, UnknownEpochError, VerificationError } from "../src/verify.js";

test("canonical msgpack is msgpack-python's shortest form", () => {
  assert.equal(hex(canonical([7, 1, 5, 0, Uint8Array.of(1, 2)])), "9507010500c4020102");
  assert.equal(hex(canonical([1765000000000])), "91cf0000019af232b200");
  assert.equal(hex(canonical([0xffffffff])), "91ceffffffff");
  assert.equal(hex(canonical(["x".repeat(40)])).slice(0, 6), "91d928");
});

test("quorum and symbols", () => {
  assert.deepEqual([1, 4, 5, 7].map(quorumSize), [1, 3, 4, 5]);
  assert.deepEqual(Array.from(symbols(Uint8Array.of(0xab))), [11, 12, 0]);
});

test("an unknown epoch makes the check learn the epochs once, then it stands or fails", async () => {
  const genesisOnly = { chainId: "c", checkpointInterval: 4, epochs: [{ fromHeight: 1, validators: { hash: Uint8Array.of(1) } }], proofs: [] };
  let fetched = 0;
  const ref = { anchor: genesisOnly };
  const fetchNone = async () => {
    fetched += 1;
    return { epochs: [] };
  };
  const unknown = () => {
    throw new UnknownEpochError("names another set");
  };
  await assert.rejects(withEpochs(ref, fetchNone, unknown), UnknownEpochError);
  assert.equal(fetched, 1);
  await assert.rejects(withEpochs(ref, async () => ({ epochs: "none" }), unknown), /malformed/);
  assert.equal(await withEpochs(ref, fetchNone, () => "ok"), "ok");
  assert.equal(fetched, 1); // a check that passes fetches nothing
  await assert.rejects(withEpochs(ref, fetchNone, () => {
    throw new VerificationError("a bad signature");
  }), /a bad signature/);
  assert.equal(fetched, 1); // only an unknown epoch fetches
});
