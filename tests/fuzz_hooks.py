"""schemathesis hooks for `test.sh` (SCHEMATHESIS_HOOKS=fuzz_hooks, with tests/ on PYTHONPATH).

- Each call gets a fresh Idempotency-Key when it carries one: the generator reuses short
  values ("0") across different bodies, which the API rightly refuses (422
  IDEMPOTENCY_KEY_REUSED); key reuse has its own tests, the fuzzer is after everything else.
- An item add binds a capability from the pool `fuzz_setup.py` made (FUZZ_CAPABILITIES names
  its file), one not used yet while any is left: a capability binds to a surface once, so
  generated ids (or one fixed id) would be refused every time after the first.
- An ensure's definition carries the request's name, and a contentHash sent with a
  definition is that definition's hash, as a client computes them: identity is the name and
  a hash that is not the definition's is refused (422), which a schema cannot say. Both
  refusals have their own tests.
- A long poll (`wait` on an execution's GET) waits one second at most: the fuzzed executions
  are queued (no runner), so each would hold its request for the whole wait; long polls have
  their own tests.
"""

import hashlib
import json
import os
import uuid

import rfc8785
import schemathesis

_pool = []
if os.environ.get("FUZZ_CAPABILITIES"):
    with open(os.environ["FUZZ_CAPABILITIES"]) as f:
        _pool = [line.strip() for line in f if line.strip()]


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = str(uuid.uuid4())
    if case.operation.definition.raw.get("operationId") in ("get-execution", "get-surface-execution"):
        if case.query and "wait" in case.query:
            case.query["wait"] = 1
    if case.operation.definition.raw.get("operationId") == "add-surface-item":
        if isinstance(case.body, dict) and "capabilityId" in case.body and _pool:
            case.body["capabilityId"] = _pool.pop() if len(_pool) > 1 else _pool[0]
    if case.operation.definition.raw.get("operationId") in ("ensure-product", "ensure-surface"):
        body = case.body
        if isinstance(body, dict) and isinstance(body.get("definition"), dict) and isinstance(body.get("name"), str):
            body["definition"]["name"] = body["name"]
            if "contentHash" in body:
                body["contentHash"] = _content_hash(body["definition"])


def _content_hash(definition):
    """The definition's content hash (its RFC 8785 form, null members removed)."""

    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    try:
        return hashlib.sha256(rfc8785.dumps(strip(definition))).hexdigest()
    except Exception:
        # what rfc8785 refuses (a lone surrogate, an integer past 2^53) the server refuses too
        canonical = json.dumps(strip(definition), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
