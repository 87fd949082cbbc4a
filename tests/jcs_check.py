"""Content hashes agree with an independent RFC 8785 implementation (the `rfc8785` package).

Ensures a product whose spec is RFC 8785's own sorting example (section 3.2.3: names that
sort differently by UTF-16 code unit, by code point and by their escaped form), then checks
the contentHash that ensure and pull answer against SHA-256 of `rfc8785.dumps` of the same
definition. Usage: jcs_check.py BASE_URL PLATFORM_KEY
"""

import hashlib
import json
import sys
import urllib.request
import uuid

import rfc8785

base, key = sys.argv[1], sys.argv[2]


def call(method, path, body=None):
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


name = f"jcs-{uuid.uuid4().hex[:8]}"
spec = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
    "nested": {"\ufb01": 1, "\U0001f600": [{"1": 5, "\r": 4}], "n": 1e30},
}
definition = {"name": name, "spec": spec}
expected = hashlib.sha256(rfc8785.dumps(definition)).hexdigest()

created = call("POST", "/v1/products/ensure", {"name": name, "definition": definition})
assert created["result"] == "created", created
assert created["contentHash"] == expected, (created["contentHash"], expected)
probe = call("POST", "/v1/products/ensure", {"name": name, "contentHash": expected})
assert probe["result"] == "unchanged", probe
pulled = call("GET", f"/v1/products/pull?name={name}")
assert pulled["contentHash"] == expected, (pulled["contentHash"], expected)
assert hashlib.sha256(rfc8785.dumps(pulled["definition"])).hexdigest() == expected
print(f"jcs_check: ensure and pull agree with rfc8785 ({expected[:12]}…)")
