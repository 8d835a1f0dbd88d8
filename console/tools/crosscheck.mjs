// The page's verifier on answers the Python side hands it (tests/integration/test_console.py):
// reads {"genesis": ..., "cases": [{"name", "kind": "answer"|"header"|"bundle", "validators"?, ...}]}
// from the file named by argv[2], prints [{"name", "ok", "error"}] as JSON. Each case starts from
// the genesis alone; `validators` is what the node answers to `/v1/validators` when the check meets
// an epoch it does not know (absent: no epochs), learnt and checked again once as the page does.
// The test checks that it agrees with client_sdk's verdict on every case, real and forged.
import { readFileSync } from "node:fs";
import { checkBundle } from "../src/bundle.js";
import { withEpochs } from "../src/epochs.js";
import { anchorOf, certifiedHeader, unhex, verifyAnswer } from "../src/verify.js";

const input = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const c of input.cases) {
  const ref = { anchor: anchorOf(input.genesis) };
  const check = (anchor) => {
    if (c.kind === "answer") return verifyAnswer(anchor, c.doc);
    if (c.kind === "header") return certifiedHeader(anchor, c.height, unhex(c.header_bytes), unhex(c.certificate_bytes));
    if (c.kind === "bundle") return checkBundle(anchor, unhex(c.bundle));
    throw new Error(`unknown case kind ${c.kind}`);
  };
  try {
    await withEpochs(ref, async () => c.validators ?? { epochs: [] }, check);
    out.push({ name: c.name, ok: true, error: null });
  } catch (err) {
    out.push({ name: c.name, ok: false, error: `${err.name}: ${err.message}` });
  }
}
process.stdout.write(JSON.stringify(out));
