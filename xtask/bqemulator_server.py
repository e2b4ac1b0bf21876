"""bqemulator's server (PyPI `bqemulator`, a BigQuery emulator backed by DuckDB), with what
Warden's tests need added in front of it. Nothing else of bqemulator is changed. Run it with
the bqemulator virtualenv's Python and bqemulator's own `start` arguments (`--rest-host
127.0.0.1 --rest-port P --grpc-port Q`).

bqemulator accepts any request and sees every caller as `user:anonymous@bqemulator.local`
unless an `x-bqemu-caller` header names one. Google's BigQuery instead resolves the bearer
token to the service account it was issued to, and refuses a call the account's role does not
allow. This STAND-IN does both, for tokens issued by the test token endpoint
(`tests/src/google_token.rs`), whose access tokens have the form
`ya29.warden-test.<base64url of the service account's email>.<random>`:

1. A request under `/bigquery/v2/` without such a bearer token gets BigQuery's 401
   (`UNAUTHENTICATED`, reason `unauthorized`); with one, the call reaches bqemulator as that
   account (`x-bqemu-caller: serviceAccount:<email>`, so `SESSION_USER()` is the account).
2. Permission refusals chosen by the account's name: an account whose name (before `@`)
   contains `deny-<permission>` (the permission's dots as dashes, e.g.
   `deny-tables-updatedata`, ending there or followed by `-`) gets BigQuery's 403 (`accessDenied`, "Permission ... denied") for
   every call that needs that permission, following BigQuery's documented permission per
   method (datasets.insert: bigquery.datasets.create, tabledata.insertAll:
   bigquery.tables.updateData, ...).
3. A request log: with BQEMULATOR_REQUEST_LOG set, every request is appended to that file as
   one JSON line {"method", "path", "bearer_sha256"} (a SHA-256 of the token, never the token).
"""

import base64
import hashlib
import json
import os
import re
import sys

import bqemulator.cli as cli
import bqemulator.server as server

LOG = os.environ.get("BQEMULATOR_REQUEST_LOG")
TOKEN = re.compile(r"^ya29\.warden-test\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$")
PROJECT = r"/bigquery/v2/projects/[^/]+"
# (method, path pattern, permission), from BigQuery's "IAM permissions by API method".
PERMISSIONS = [
    ("POST", rf"^{PROJECT}/datasets$", "bigquery.datasets.create"),
    ("GET", rf"^{PROJECT}/datasets/[^/]+$", "bigquery.datasets.get"),
    ("PATCH", rf"^{PROJECT}/datasets/[^/]+$", "bigquery.datasets.update"),
    ("PUT", rf"^{PROJECT}/datasets/[^/]+$", "bigquery.datasets.update"),
    ("DELETE", rf"^{PROJECT}/datasets/[^/]+$", "bigquery.datasets.delete"),
    ("POST", rf"^{PROJECT}/datasets/[^/]+/tables$", "bigquery.tables.create"),
    ("GET", rf"^{PROJECT}/datasets/[^/]+/tables/[^/]+$", "bigquery.tables.get"),
    ("PATCH", rf"^{PROJECT}/datasets/[^/]+/tables/[^/]+$", "bigquery.tables.update"),
    ("PUT", rf"^{PROJECT}/datasets/[^/]+/tables/[^/]+$", "bigquery.tables.update"),
    ("DELETE", rf"^{PROJECT}/datasets/[^/]+/tables/[^/]+$", "bigquery.tables.delete"),
    ("POST", rf"^{PROJECT}/datasets/[^/]+/tables/[^/]+/insertAll$", "bigquery.tables.updateData"),
    ("POST", rf"^{PROJECT}/queries$", "bigquery.jobs.create"),
    ("POST", rf"^{PROJECT}/jobs$", "bigquery.jobs.create"),
]


async def answer(send, status, body):
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def google_error(code, status, reason, message):
    return {"error": {"code": code, "message": message,
                      "errors": [{"domain": "global", "reason": reason, "message": message}], "status": status}}


def account_of(bearer):
    match = TOKEN.match(bearer)
    if not match:
        return None
    encoded = match.group(1)
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:
        return None


class Additions:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"x-bqemu-caller"]
        authorization = next((v.decode() for k, v in headers if k.lower() == b"authorization"), "")
        bearer = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        path, method = scope["path"], scope["method"]
        if LOG:
            line = {"method": method, "path": path,
                    "bearer_sha256": hashlib.sha256(bearer.encode()).hexdigest() if bearer else None}
            with open(LOG, "a") as log:
                log.write(json.dumps(line) + "\n")
        if not path.startswith("/bigquery/v2/"):
            return await self.app(scope, receive, send)
        account = account_of(bearer)
        if account is None:
            return await answer(send, 401, google_error(
                401, "UNAUTHENTICATED", "unauthorized",
                "Request is missing required authentication credential. Expected OAuth 2 access token."))
        name = account.split("@", 1)[0].lower()
        for verb, pattern, permission in PERMISSIONS:
            denied = re.search(rf"deny-{permission[9:].replace('.', '-').lower()}(-|$)", name)
            if verb == method and re.match(pattern, path) and denied:
                resource = path.split("/projects/", 1)[1]
                return await answer(send, 403, google_error(
                    403, "PERMISSION_DENIED", "accessDenied",
                    f"Access Denied: {resource}: Permission {permission} denied (or it may not exist)."))
        headers.append((b"x-bqemu-caller", f"serviceAccount:{account}".encode()))
        return await self.app(dict(scope, headers=headers), receive, send)


_create_app = server.create_app


def create_app(context):
    return Additions(_create_app(context))


server.create_app = create_app

if __name__ == "__main__":
    sys.exit(cli.main())
