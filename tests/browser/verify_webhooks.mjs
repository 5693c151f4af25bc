// Verifies webhook messages with the independent `standardwebhooks` library
// (the reference implementation of the Standard Webhooks specification),
// for tests/webhooks.rs. Reads `{ "secrets": [...], "messages": [{ "headers",
// "body" }] }` on stdin; prints, per message, the secrets (by index) whose
// signature verifies, and the payload's type; exits 1 if a message verifies
// with none.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secrets, messages } = JSON.parse(input);
const hooks = secrets.map((s) => new Webhook(s));
const out = [];
let failed = false;
for (const m of messages) {
  const verifiedBy = [];
  let type = null;
  hooks.forEach((hook, i) => {
    try {
      const payload = hook.verify(m.body, m.headers);
      verifiedBy.push(i);
      type = payload.type;
    } catch {
      // not signed with this secret
    }
  });
  if (verifiedBy.length === 0) failed = true;
  out.push({ id: m.headers["webhook-id"], type, verifiedBy });
}
process.stdout.write(JSON.stringify(out));
process.exit(failed ? 1 : 0);
