// The TypeScript A2A SDK against an `a2a` surface (run by tests/protocol_clients.py): resolve
// the Agent Card, send a message, read the task back, and try to cancel it once it is done.
//     node tests/a2a_client.mjs <endpoint> <a2a key>
import assert from "node:assert/strict";
import { ClientFactory, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { Role, TaskState } from "@a2a-js/sdk";

const [endpoint, key] = process.argv.slice(2);
// the key on every JSON-RPC call (the card itself is public)
const fetchImpl = (url, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${key}`);
  return fetch(url, { ...init, headers });
};
const factory = new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl })] });
// the card lies under the endpoint: resolve it relative to the endpoint as a directory
const client = await factory.createFromUrl(`${endpoint}/`);
const sent = await client.sendMessage({
  message: {
    messageId: crypto.randomUUID(),
    role: Role.ROLE_USER,
    parts: [{ content: { $case: "text", value: "Weather in Lima?" } }],
  },
});
// a task (not a bare message), completed, the runner's answer its artifact
assert.equal(sent.status?.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(sent));
const part = sent.artifacts[0].parts[0];
assert.equal(part.content.$case, "data");
assert.deepEqual(part.content.value, { echo: {} });
const read = await client.getTask({ id: sent.id });
assert.equal(read.id, sent.id);
assert.equal(read.contextId, sent.contextId);
// a finished task is not cancelable: the SDK raises the error the code -32002 names
await assert.rejects(client.cancelTask({ id: sent.id }), (e) => e?.envelopeCode === -32002 && e?.reason === "TASK_NOT_CANCELABLE");
console.log("protocol_clients: @a2a-js/sdk (TypeScript) resolved the card, sent a message and read the task");
