// The TypeScript MCP SDK against an `mcp` surface (run by tests/protocol_clients.py):
// connect over Streamable HTTP (the initialize handshake), list the tools, call one.
//     node tests/mcp_client.mjs <endpoint> <mcp key>
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [endpoint, key] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const client = new Client({ name: "runtype-tests", version: "1.0.0" });
await client.connect(transport);
assert.equal(client.getServerVersion().name, "Weather tools");
const { tools } = await client.listTools();
assert.deepEqual(tools.map((t) => t.name), ["weather", "echo"]);
assert.equal(tools[0].inputSchema.properties.city.type, "string");
const done = await client.callTool({ name: "weather", arguments: { city: "Lima" } });
assert.equal(done.isError, false);
assert.deepEqual(done.structuredContent, { echo: { city: "Lima" } });
assert.match(done._meta["runtype/executionId"], /^exec_/);
const failed = await client.callTool({ name: "echo", arguments: { fail: true } });
assert.equal(failed.isError, true);
await assert.rejects(client.callTool({ name: "nope", arguments: {} }), (e) => e.code === -32602);
await client.close();
console.log(`protocol_clients: mcp (TypeScript) ${transport.protocolVersion ?? "?"} listed and called tools`);
