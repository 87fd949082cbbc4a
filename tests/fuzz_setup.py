"""Create the records schemathesis needs to reach every operation of a running `runtype serve`,
and write its configuration: each operation's path parameters name a record that exists (the
deletes each get their own, so deleting one does not starve the others), the gateway's
operations carry a surface key, and any warning fails the run. Beside it, `OUT_TOML.capabilities`: capabilities not bound
to any surface yet, for `fuzz_hooks` to hand to item adds.

    python tests/fuzz_setup.py BASE_URL PLATFORM_KEY OUT_TOML
"""

import json
import sys
import urllib.request


def main(base: str, key: str, out: str) -> int:
    def call(method, path, body=None, bearer=key):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {bearer}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")

    def made(method, path, body=None, field="id"):
        return call(method, path, body)[field]

    p = made("POST", "/v1/products", {"name": "fuzz"})
    # ensure converges surfaces of a product of its own, so its creates crowd no other
    as_code = made("POST", "/v1/products", {"name": "fuzz, as code"})
    doomed_product = made("POST", "/v1/products", {"name": "fuzz, to delete"})
    cap = made("POST", f"/v1/products/{p}/capabilities", {"capabilityName": "answer", "flowId": "flow_1"})
    doomed_cap = made("POST", f"/v1/products/{p}/capabilities", {"capabilityName": "doomed", "flowId": "flow_1"})
    # each item add binds a capability not bound yet (one binding per capability): a pool
    unbound = [
        made("POST", f"/v1/products/{p}/capabilities", {"capabilityName": f"unbound {n}", "agentId": "agent_1"})
        for n in range(150)
    ]
    changing_cap = made("POST", f"/v1/products/{p}/capabilities", {"capabilityName": "changing", "flowId": "flow_1"})
    spare = made("POST", f"/v1/products/{p}/capabilities", {"capabilityName": "spare", "flowId": "flow_1"})
    api = made("POST", f"/v1/products/{p}/surfaces", {"name": "api", "type": "api"})
    cron = made("POST", f"/v1/products/{p}/surfaces", {"name": "cron", "type": "schedule"})
    changing = made("POST", f"/v1/products/{p}/surfaces", {"name": "changing", "type": "chat"})
    changing_item = made("POST", f"/v1/products/{p}/surfaces/{changing}/items", {"capabilityId": cap})
    doomed_surface = made("POST", f"/v1/products/{p}/surfaces", {"name": "doomed", "type": "chat"})
    items = f"/v1/products/{p}/surfaces/{api}/items"
    made("POST", items, {"capabilityId": cap, "endpointSlug": "answer", "isEntryPoint": True})
    doomed_item = made("POST", items, {"capabilityId": spare, "endpointSlug": "spare"})
    keys = f"/v1/products/{p}/surfaces/{api}/keys"
    surface_key = call("POST", keys, {"name": "fuzz", "rateLimitPerMinute": 1000000, "rateLimitPerDay": 1000000})["key"]
    doomed_key = made("POST", keys, {"name": "doomed"})
    schedules = f"/v1/products/{p}/surfaces/{cron}/schedules"
    body = {"flowId": "flow_1", "triggerType": "recurring", "cron": "0 * * * *"}
    schedule = made("POST", schedules, body)
    doomed_schedule = made("POST", schedules, body)
    execution = made("POST", f"{schedules}/{schedule}/run-now", field="batchExecutionId")
    mcp = made("POST", f"/v1/products/{p}/surfaces", {"name": "mcp", "type": "mcp"})
    made("POST", f"/v1/products/{p}/surfaces/{mcp}/items", {"capabilityId": cap, "endpointSlug": "answer"})
    mcp_keys = f"/v1/products/{p}/surfaces/{mcp}/keys"
    mcp_key = call("POST", mcp_keys, {"name": "fuzz", "rateLimitPerMinute": 1000000, "rateLimitPerDay": 1000000})["key"]
    a2a = made("POST", f"/v1/products/{p}/surfaces", {"name": "a2a", "type": "a2a"})
    made("POST", f"/v1/products/{p}/surfaces/{a2a}/items", {"capabilityId": cap, "endpointSlug": "answer"})
    a2a_keys = f"/v1/products/{p}/surfaces/{a2a}/keys"
    a2a_key = call("POST", a2a_keys, {"name": "fuzz", "rateLimitPerMinute": 1000000, "rateLimitPerDay": 1000000})["key"]
    invoked = call("POST", f"/v1/products/{p}/surfaces/{api}/api/answer", {"inputs": {}}, bearer=surface_key)
    gateway_execution = invoked["id"]

    under = {"path.id": p}
    on_api = {**under, "path.surfaceId": api}
    on_cron = {**under, "path.surfaceId": cron}
    on_schedule = {**on_cron, "path.scheduleId": schedule}
    params = {
        "delete-product": {"path.id": doomed_product},
        "get-product": under,
        "update-product": under,
        "add-capability": under,
        "delete-capability": {**under, "path.capabilityId": doomed_cap},
        "update-capability": {**under, "path.capabilityId": changing_cap},
        "list-executions": under,
        "get-execution": {**under, "path.executionId": execution},
        "cancel-execution": {**under, "path.executionId": execution},
        "list-surfaces": under,
        "create-surface": under,
        "delete-surface": {**under, "path.surfaceId": doomed_surface},
        "get-surface": on_api,
        # what the fuzzer changes is kept off the surface the gateway's operations call
        "update-surface": {**under, "path.surfaceId": changing},
        "describe-surface-api": on_api,
        "invoke-surface-entry": on_api,
        "get-surface-execution": {**on_api, "path.executionId": gateway_execution},
        "invoke-surface-endpoint": {**on_api, "path.endpointSlug": "answer"},
        "add-surface-item": on_api,
        "delete-surface-item": {**on_api, "path.itemId": doomed_item},
        "update-surface-item": {**under, "path.surfaceId": changing, "path.itemId": changing_item},
        "create-surface-key": on_api,
        "delete-surface-key": {**on_api, "path.keyId": doomed_key},
        "list-schedules": on_cron,
        "create-schedule": on_cron,
        "delete-schedule": {**on_cron, "path.scheduleId": doomed_schedule},
        "get-schedule": on_schedule,
        "update-schedule": on_schedule,
        "pause-schedule": on_schedule,
        "resume-schedule": on_schedule,
        "run-schedule-now": on_schedule,
        "list-surface-schedule-runs": on_schedule,
        "find-schedule": {"path.id": schedule},
        "list-schedule-runs": {"path.id": schedule},
        "get-schedule-stats": {"path.id": schedule},
        "pull-product": {"query.name": "fuzz"},
        "ensure-surface": {"path.id": as_code},
        "pull-surface": {**under, "query.name": "api"},
        "mcp": {**under, "path.surfaceId": mcp},
        "mcp-manifest": {**under, "path.surfaceId": mcp},
        "mcp-info": {**under, "path.surfaceId": mcp},
        "mcp-protected-resource": {**under, "path.surfaceId": mcp},
        "a2a": {**under, "path.surfaceId": a2a},
        "a2a-agent-card": {**under, "path.surfaceId": a2a},
        "a2a-info": {**under, "path.surfaceId": a2a},
    }
    gateway = {"describe-surface-api", "invoke-surface-entry", "get-surface-execution", "invoke-surface-endpoint"}

    def toml(value):
        return json.dumps(value)  # a TOML basic string is a JSON string

    lines = ["[warnings]", "fail-on = true", "", "[headers]", f"Authorization = {toml('Bearer ' + key)}", ""]
    for op, values in params.items():
        lines += ["[[operations]]", f"include-operation-id = {toml(op)}"]
        if op in gateway:
            lines.append(f"headers = {{ Authorization = {toml('Bearer ' + surface_key)} }}")
        if op in ("mcp", "a2a"):
            protocol_key = mcp_key if op == "mcp" else a2a_key
            lines.append(f"headers = {{ Authorization = {toml('Bearer ' + protocol_key)} }}")
        inner = ", ".join(f"{toml(k)} = {toml(v)}" for k, v in values.items())
        lines += [f"parameters = {{ {inner} }}", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))
    with open(out + ".capabilities", "w") as f:
        f.write("\n".join(unbound))
    print(f"fuzz_setup: {len(params)} operations given records to work on")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
