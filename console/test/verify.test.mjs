import assert from "node:assert/strict";
import { test } from "node:test";
import { canonical, hex, quorumSize, symbols } from "../src/verify.js";

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
