"""minilake's server (PyPI `minilake`, a Databricks API emulator), with three additions for
Warden's tests. Nothing else of minilake is changed. Run it with the minilake virtualenv's
Python and minilake's own arguments (`--host 127.0.0.1 --port P --tls --https-port Q
--ssl-certfile C --ssl-keyfile K`).

1. A request log. minilake accepts any bearer token and logs none, so the tests could not
   see which token Warden sent. With MINILAKE_REQUEST_LOG set, every request is appended to
   that file as one JSON line: {"method", "path", "bearer_sha256"} (a SHA-256 of the bearer
   token, never the token).
2. The system views Warden's delete reads. Databricks documents
   `system.information_schema.column_masks` and `row_filters`; minilake's `system` catalog is
   DuckDB's own and has neither, so a statement that reads one of them is answered here, as a
   STAND-IN, with a SUCCEEDED result of no rows in the Statement Execution API's shape (no
   table in minilake carries a mask or a row filter, so no rows is the true answer).
3. Faults minilake cannot produce, chosen by the bearer token (a test picks them through
   the config it sends): a token starting `no-metastore` gets Databricks' 404
   `METASTORE_DOES_NOT_EXIST` from the metastore endpoints (a workspace with no metastore
   assigned), one starting `broken-metastore` a 500 `INTERNAL_ERROR` there; a token
   `throttle-<n>-...` gets Databricks' 429 `REQUEST_LIMIT_EXCEEDED` with `Retry-After: 1` for
   its first n requests.
"""

import hashlib
import json
import os
import re
import sys
import uuid

import minilake.cli as cli

LOG = os.environ.get("MINILAKE_REQUEST_LOG")
THROTTLE = re.compile(r"^throttle-(\d+)-")
throttled = {}
METASTORE_PATHS = ("/api/2.1/unity-catalog/current-metastore-assignment", "/api/2.1/unity-catalog/metastore_summary")
SYSTEM_VIEW = re.compile(r"`?system`?\s*\.\s*`?information_schema`?\s*\.\s*`?(column_masks|row_filters)`?", re.I)


async def answer(send, status, body, headers=()):
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


class Additions:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        bearer = headers.get("authorization", "")
        bearer = bearer[7:] if bearer.lower().startswith("bearer ") else ""
        path = scope["path"]
        if LOG:
            line = {"method": scope["method"], "path": path,
                    "bearer_sha256": hashlib.sha256(bearer.encode()).hexdigest() if bearer else None}
            with open(LOG, "a") as log:
                log.write(json.dumps(line) + "\n")
        limit = THROTTLE.match(bearer)
        if limit and throttled.get(bearer, 0) < int(limit.group(1)):
            throttled[bearer] = throttled.get(bearer, 0) + 1
            return await answer(send, 429, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests."},
                                [(b"retry-after", b"1")])
        if path in METASTORE_PATHS and bearer.startswith("no-metastore"):
            return await answer(send, 404, {"error_code": "METASTORE_DOES_NOT_EXIST",
                                            "message": "No metastore assigned for the current workspace."})
        if path in METASTORE_PATHS and bearer.startswith("broken-metastore"):
            return await answer(send, 500, {"error_code": "INTERNAL_ERROR", "message": "Internal error."})
        if scope["method"] == "POST" and path == "/api/2.0/sql/statements":
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            try:
                statement = json.loads(body or b"{}").get("statement", "")
            except ValueError:
                statement = ""
            if SYSTEM_VIEW.search(statement or ""):
                column = {"name": "statement", "type_text": "STRING", "type_name": "STRING", "position": 0}
                return await answer(send, 200, {
                    "statement_id": str(uuid.uuid4()),
                    "status": {"state": "SUCCEEDED"},
                    "manifest": {"format": "JSON_ARRAY", "schema": {"column_count": 1, "columns": [column]},
                                 "total_row_count": 0, "truncated": False},
                    "result": {"row_count": 0, "data_array": []},
                })
            sent = False

            async def replay():
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await self.app(scope, replay, send)
        return await self.app(scope, receive, send)


_create_app = cli.create_app


def create_app():
    return Additions(_create_app())


cli.create_app = create_app

if __name__ == "__main__":
    sys.exit(cli.main())
