"""The protocol surfaces (MCP, A2A), driven by the protocols' official clients.

Starts its own `runtype serve` (embedded store) with the webhook runner pointed at a runner
here that answers at once — `{"echo": <inputs>}`, or a 500 when the inputs say `fail` (so the
execution fails: `RUNTYPE_RUNNER_MAX_ATTEMPTS=1`) — sets up an `mcp` surface, and has the
official clients use it: the `mcp` Python SDK in its default `auto` mode (which probes
`server/discover`, the stateless 2026-07-28 revision) and in `legacy` mode (the `initialize`
handshake), and the TypeScript SDK (`@modelcontextprotocol/sdk`, through node); then an
`a2a` surface with the A2A SDKs: `a2a-sdk` (Python: the card resolved, a message sent, the
task read, a finished task's cancel refused; then the same through its 0.3 transport, whose
models check the 0.3 forms) and `@a2a-js/sdk` (TypeScript, the same in 1.0).

    python tests/protocol_clients.py <runtype-binary> <node_modules dir>
"""

import asyncio
import base64
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

RUNTYPE, NODE_MODULES = sys.argv[1:3]
HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


class Runner(http.server.BaseHTTPRequestHandler):
    """A webhook runner that answers in the request."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        inputs = body["data"].get("inputs") or {}
        status, answer = (500, {"error": "asked to fail"}) if inputs.get("fail") else (200, {"echo": inputs})
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve():
    runner = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runner)
    threading.Thread(target=runner.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp()
    port = free_port()
    env = dict(os.environ, RUNTYPE_RUNNER="webhook", RUNTYPE_WEBHOOK_SECRET=SECRET,
               RUNTYPE_RUNNER_URL=f"http://127.0.0.1:{runner.server_port}/run",
               RUNTYPE_RUNNER_MAX_ATTEMPTS="1", RUNTYPE_PROTOCOL_WAIT_S="10")
    out = open(os.path.join(data, "out"), "w+")
    # with its scheduler: a pass runs before it serves (nothing is due in a new data file)
    proc = subprocess.Popen([RUNTYPE, "serve", "--data", os.path.join(data, "db"), "--port", str(port)],
                            env=env, stdout=out, stderr=subprocess.DEVNULL)
    for _ in range(100):
        out.seek(0)
        text = out.read()
        key = re.search(r"rt_live_[A-Za-z0-9]+", text)
        if "serving" in text and key:
            return proc, f"http://127.0.0.1:{port}", key.group(0)
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("protocol_clients: runtype serve did not start")


def call(base, key, method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read() or b"null")


def mcp_surface(base, key):
    """A product with two capabilities on an `mcp` surface; its endpoint and a key."""
    product = call(base, key, "POST", "/v1/products", {"name": "mcp clients"})["id"]
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    weather = call(base, key, "POST", f"/v1/products/{product}/capabilities",
                   {"capabilityName": "Weather", "capabilityDescription": "The weather in a city",
                    "flowId": "flow_weather", "parametersSchema": schema})["id"]
    echo = call(base, key, "POST", f"/v1/products/{product}/capabilities",
                {"capabilityName": "Echo", "flowId": "flow_echo"})["id"]
    surface = call(base, key, "POST", f"/v1/products/{product}/surfaces",
                   {"name": "Weather tools", "type": "mcp", "status": "active"})
    for cap, slug in ((weather, "weather"), (echo, "echo")):
        call(base, key, "POST", f"/v1/products/{product}/surfaces/{surface['id']}/items",
             {"capabilityId": cap, "endpointSlug": slug})
    mcp_key = call(base, key, "POST", f"/v1/products/{product}/surfaces/{surface['id']}/keys", {})["key"]
    return surface["endpoint"], mcp_key


def a2a_surface(base, key):
    """A product with one capability on an `a2a` surface (its entry point); the endpoint and
    a key."""
    product = call(base, key, "POST", "/v1/products", {"name": "a2a clients", "description": "Answers weather questions"})["id"]
    cap = call(base, key, "POST", f"/v1/products/{product}/capabilities",
               {"capabilityName": "Weather", "capabilityDescription": "The weather in a city", "flowId": "flow_w"})["id"]
    surface = call(base, key, "POST", f"/v1/products/{product}/surfaces", {"name": "Weather agent", "type": "a2a"})
    call(base, key, "POST", f"/v1/products/{product}/surfaces/{surface['id']}/items",
         {"capabilityId": cap, "endpointSlug": "weather", "isEntryPoint": True})
    a2a_key = call(base, key, "POST", f"/v1/products/{product}/surfaces/{surface['id']}/keys", {})["key"]
    return surface["endpoint"], a2a_key


async def a2a_python(endpoint, a2a_key):
    import httpx
    from a2a.client import ClientConfig, create_client
    from a2a.types import CancelTaskRequest, GetTaskRequest, Part, Role, SendMessageRequest, TaskState
    from a2a.helpers.proto_helpers import new_message
    from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError

    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {a2a_key}"}, timeout=30)
    client = await create_client(endpoint, client_config=ClientConfig(httpx_client=http, streaming=False))
    card = client._card  # the card the factory resolved (no public accessor in 1.3.0)
    assert card.name == "Weather agent" and card.skills[0].id == "weather", card
    message = new_message([Part(text="Weather in Oslo?")], role=Role.ROLE_USER)
    events = [e async for e in client.send_message(SendMessageRequest(message=message))]
    task = events[-1].task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task
    answer = task.artifacts[0].parts[0]
    assert answer.HasField("data") and answer.data.struct_value["echo"] == {}, answer
    assert task.history[0].parts[0].text == "Weather in Oslo?", task.history
    again = await client.get_task(GetTaskRequest(id=task.id))
    assert again.id == task.id and again.context_id == task.context_id and again.status.state == TaskState.TASK_STATE_COMPLETED
    try:
        await client.cancel_task(CancelTaskRequest(id=task.id))
        raise AssertionError("a completed task was canceled")
    except TaskNotCancelableError:
        pass
    try:
        await client.get_task(GetTaskRequest(id="exec_00000000000000000000000001"))
        raise AssertionError("a task that is not there was found")
    except TaskNotFoundError:
        pass
    # the same through the SDK's own 0.3 transport (0.3 method names, `A2A-Version: 0.3`, the
    # answers validated against its 0.3 models)
    from a2a.compat.v0_3.jsonrpc_transport import CompatJsonRpcTransport

    old = CompatJsonRpcTransport(http, None, endpoint)
    message = new_message([Part(text="Weather in Bergen?")], role=Role.ROLE_USER)
    sent = (await old.send_message(SendMessageRequest(message=message))).task
    assert sent.status.state == TaskState.TASK_STATE_COMPLETED, sent
    assert sent.artifacts[0].parts[0].HasField("data"), sent.artifacts
    read = await old.get_task(GetTaskRequest(id=sent.id))
    assert read.id == sent.id and read.context_id == sent.context_id, read
    try:
        await old.cancel_task(CancelTaskRequest(id=sent.id))
        raise AssertionError("a completed task was canceled (0.3)")
    except TaskNotCancelableError:
        pass
    await http.aclose()


async def python_client(endpoint, mcp_key, mode):
    http_client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {mcp_key}"}, timeout=30)
    transport = streamable_http_client(endpoint, http_client=http_client)
    async with Client(transport, mode=mode) as client:
        expected = "2026-07-28" if mode == "auto" else "2025-11-25"
        assert client.protocol_version == expected, (mode, client.protocol_version)
        assert client.server_info.name == "Weather tools", client.server_info
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        assert names == ["weather", "echo"], names
        weather = tools.tools[0]
        assert weather.title == "Weather" and weather.description == "The weather in a city", weather
        assert weather.input_schema["properties"]["city"] == {"type": "string"}, weather.input_schema
        done = await client.call_tool("weather", {"city": "Oslo"})
        assert not done.is_error, done
        assert done.structured_content == {"echo": {"city": "Oslo"}}, done
        assert json.loads(done.content[0].text) == {"echo": {"city": "Oslo"}}, done.content
        assert done.meta["runtype/executionId"].startswith("exec_"), done.meta
        failed = await client.call_tool("echo", {"fail": True})
        assert failed.is_error, failed
        try:
            await client.call_tool("nope", {})
            raise AssertionError("an unknown tool was called")
        except MCPError as e:  # the server's JSON-RPC error, raised by the SDK
            assert e.code == -32602, e
    await http_client.aclose()


def metrics_after_the_clients(base):
    """What the clients did, at `/metrics`, read by Prometheus' own parser: every family
    there, and the gateway calls, executions and deliveries counted (each client's tool call
    or message was a gateway call; the failing ones a failed delivery). `/healthz` says the
    store answers."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    with urllib.request.urlopen(base + "/metrics") as res:
        assert res.headers["Content-Type"].startswith("application/openmetrics-text"), res.headers
        text = res.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("runtype_gateway_calls", "runtype_executions_created", "runtype_delivery_attempts",
                 "runtype_delivery_attempt_duration_seconds", "runtype_runner_reports",
                 "runtype_scheduler_occurrences", "runtype_scheduler_pass_duration_seconds",
                 "runtype_quota_refusals", "runtype_idempotent_replays", "runtype_storage_errors"):
        assert name in families, (name, sorted(families))

    def value(family, suffix="_total", **labels):
        for s in families[family].samples:
            if s.name == family + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError((family, labels))

    # MCP: 3 clients x 2 calls (one failing) + the unknown tool refused; A2A: 3 messages
    assert value("runtype_gateway_calls", outcome="admitted") == 9, text
    assert value("runtype_gateway_calls", outcome="invalid") == 3, text
    assert value("runtype_executions_created", source="surface") == 9, text
    assert value("runtype_delivery_attempts", outcome="completed") == 6, text
    assert value("runtype_delivery_attempts", outcome="failed") == 3, text
    assert value("runtype_delivery_attempt_duration_seconds", "_count") == 9, text
    assert value("runtype_storage_errors") == 0, text
    # the pass the server made as it started (and any at a minute's turn since): nothing due
    assert value("runtype_scheduler_pass_duration_seconds", "_count") >= 1, text
    assert value("runtype_scheduler_occurrences", outcome="due") == 0, text
    assert value("runtype_executions_created", source="schedule") == 0, text
    with urllib.request.urlopen(base + "/healthz") as res:
        assert res.status == 200 and json.loads(res.read()) == {"status": "ok"}
    print("protocol_clients: /metrics parsed by prometheus_client, with what the clients did counted")


def node(script, *args):
    """Run one of the JavaScript clients beside the node_modules that holds its SDK (an ES
    module resolves its imports from where it lies)."""
    where = os.path.join(os.path.dirname(os.path.abspath(NODE_MODULES)), script)
    shutil.copy(os.path.join(HERE, script), where)
    subprocess.run(["node", where, *args], check=True)


def main():
    proc, base, key = serve()
    try:
        endpoint, mcp_key = mcp_surface(base, key)
        for mode in ("auto", "legacy"):
            asyncio.run(python_client(endpoint, mcp_key, mode))
            print(f"protocol_clients: mcp (Python) {mode} mode listed and called tools")
        node("mcp_client.mjs", endpoint, mcp_key)
        endpoint, a2a_key = a2a_surface(base, key)
        asyncio.run(a2a_python(endpoint, a2a_key))
        print("protocol_clients: a2a-sdk (Python) resolved the card, sent a message and read the task, in 1.0 and through its 0.3 transport")
        node("a2a_client.mjs", endpoint, a2a_key)
        metrics_after_the_clients(base)
    finally:
        proc.kill()


main()
