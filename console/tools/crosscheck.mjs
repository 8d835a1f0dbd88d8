// The page's verifier on answers the Python side hands it (tests/integration/test_console.py):
// reads {"genesis": ..., "cases": [{"name", "kind": "answer"|"header"|"bundle", ...}]} from the file
// named by argv[2], prints [{"name", "ok", "error"}] as JSON. The test checks that it agrees with
// client_sdk's verdict on every case, real and forged.
import { readFileSync } from "node:fs";
import { checkBundle } from "../src/bundle.js";
import { anchorOf, certifiedHeader, unhex, verifyAnswer } from "../src/verify.js";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const anchor = anchorOf(input.genesis);
const out = input.cases.map((c) => {
  try {
    if (c.kind === "answer") verifyAnswer(anchor, c.doc);
    else if (c.kind === "header") certifiedHeader(anchor, c.height, unhex(c.header_bytes), unhex(c.certificate_bytes));
    else if (c.kind === "bundle") checkBundle(anchor, unhex(c.bundle));
    else throw new Error(`unknown case kind ${c.kind}`);
    return { name: c.name, ok: true, error: null };
  } catch (err) {
    return { name: c.name, ok: false, error: `${err.name}: ${err.message}` };
  }
});
process.stdout.write(JSON.stringify(out));
