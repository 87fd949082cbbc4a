"""The webhook runner's signature, verified by the Standard Webhooks reference library.

Makes one gateway call on a running `runtype serve`, runs `runtype executions deliver`
against its data file with the webhook runner pointed at a receiver here, and has
`standardwebhooks` verify what arrives.

    python tests/webhook_verify.py <base-url> <platform-key> <data-file> <runtype-binary>
"""

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.request

from standardwebhooks.webhooks import Webhook

BASE, KEY, DATA, RUNTYPE = sys.argv[1:5]
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
received = []


def call(method, path, body=None, key=KEY):
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read() or b"null")


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        payload = Webhook(SECRET).verify(body, headers)  # raises when it does not verify
        received.append((headers["webhook-id"], payload))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"verified": true}')

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()

product = call("POST", "/v1/products", {"name": "webhook check"})["id"]
cap = call("POST", f"/v1/products/{product}/capabilities", {"capabilityName": "Run", "flowId": "flow_1"})["id"]
surface = call("POST", f"/v1/products/{product}/surfaces", {"name": "api", "type": "api"})["id"]
call("POST", f"/v1/products/{product}/surfaces/{surface}/items", {"capabilityId": cap})
surface_key = call("POST", f"/v1/products/{product}/surfaces/{surface}/keys", {})["key"]
execution = call("POST", f"/v1/products/{product}/surfaces/{surface}/api/run", {"inputs": {"n": 1}}, key=surface_key)["id"]

env = dict(os.environ, RUNTYPE_RUNNER="webhook", RUNTYPE_WEBHOOK_SECRET=SECRET,
           RUNTYPE_RUNNER_URL=f"http://127.0.0.1:{server.server_port}/hook")
out = subprocess.run([RUNTYPE, "executions", "deliver", "--data", DATA], env=env,
                     capture_output=True, text=True, check=True)
summary = json.loads(out.stdout)
assert summary["delivered"] >= 1 and summary["failed"] == 0, summary
ids = [i for i, _ in received]
assert execution in ids, (execution, ids)
payload = next(p for i, p in received if i == execution)
assert payload["type"] == "execution.requested" and payload["data"]["id"] == execution, payload
assert SECRET[6:] not in out.stdout + out.stderr, "the secret was printed"
done = call("GET", f"/v1/products/{product}/executions/{execution}")
assert done["status"] == "completed" and done["result"] == {"verified": True}, done
print(f"webhook_verify: {len(received)} delivery verified by standardwebhooks")
