#!/usr/bin/env python3
"""Generates components/health/openapi.json (served at GET /openapi.json) from the route table
below, which follows shared/API.md. Edit this file, then run:

    python3 scripts/openapi.py
"""
import json
import pathlib

ERROR_CODES = [
    "INVALID_JSON", "VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE",
    "UNAUTHENTICATED", "INVALID_CREDENTIALS", "FORBIDDEN", "ACCOUNT_PENDING", "ACCOUNT_DISABLED",
    "SIGNUP_DISABLED", "USERNAME_TAKEN", "WEAK_PASSWORD", "NOT_FOUND", "METHOD_NOT_ALLOWED",
    "CONFLICT", "RATE_LIMITED", "MODEL_NOT_FOUND", "OLLAMA_UNAVAILABLE", "UPSTREAM_ERROR",
    "UPSTREAM_TIMEOUT", "INTERNAL",
]


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema):
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    t = schema.get("type")
    return {**schema, "type": [t, "null"]}


def obj(props, required=None, extra=False):
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = required
    if not extra:
        s["additionalProperties"] = False
    return s


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
ID = {"type": "string", "description": "Opaque, time-sortable id."}


def page(item):
    return obj({"items": {"type": "array", "items": item}, "next_cursor": nullable(STR)},
               ["items", "next_cursor"])


SCHEMAS = {
    "Error": obj({
        "error": obj({
            "code": {"type": "string", "enum": ERROR_CODES},
            "message": STR,
            "details": {"type": "object"},
        }, ["code", "message"]),
        "request_id": STR,
    }, ["error", "request_id"]),
    "User": obj({
        "id": ID, "username": STR, "display_name": nullable(STR), "email": nullable(STR),
        "role": {"type": "string", "enum": ["admin", "user"]},
        "status": {"type": "string", "enum": ["active", "pending", "disabled"]},
        "created_at": TIME,
    }, ["id", "username", "display_name", "email", "role", "status", "created_at"]),
    "UserEnvelope": obj({"user": ref("User")}, ["user"]),
    "AuthResponse": obj({
        "user": ref("User"), "access_token": STR, "refresh_token": STR,
        "token_type": {"type": "string", "const": "Bearer"},
        "expires_in": {"type": "integer", "description": "Seconds until the access token expires."},
    }, ["user", "access_token", "refresh_token", "token_type", "expires_in"]),
    "Session": obj({
        "id": ID, "created_at": TIME, "last_used_at": TIME, "expires_at": TIME,
        "user_agent": nullable(STR), "ip": nullable(STR), "current": BOOL,
    }, ["id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"]),
    "ApiKey": obj({
        "id": ID, "name": STR, "prefix": STR, "created_at": TIME, "expires_at": nullable(TIME),
        "last_used_at": nullable(TIME),
    }, ["id", "name", "prefix", "created_at", "expires_at", "last_used_at"]),
    "ApiKeyCreated": obj({
        "id": ID, "name": STR, "key": {"type": "string", "description": "Shown only once."},
        "prefix": STR, "created_at": TIME, "expires_at": nullable(TIME),
    }, ["id", "name", "key", "prefix", "created_at", "expires_at"]),
    "Conversation": obj({
        "id": ID, "title": nullable(STR), "model": nullable(STR), "system_prompt": nullable(STR),
        "options": {"type": ["object", "null"], "description": "Passed to Ollama's `options`."},
        "pinned": BOOL, "archived": BOOL, "tags": {"type": "array", "items": STR},
        "created_at": TIME, "updated_at": TIME, "message_count": INT,
        "snippet": {"type": "string", "description": "Only in search results (`q`)."},
    }, ["id", "title", "model", "system_prompt", "options", "pinned", "archived", "tags",
        "created_at", "updated_at", "message_count"]),
    "ConversationEnvelope": obj({"conversation": ref("Conversation")}, ["conversation"]),
    "Usage": obj({
        "prompt_tokens": INT, "completion_tokens": INT, "total_duration_ms": {"type": "number"},
        "load_duration_ms": {"type": "number"}, "eval_duration_ms": {"type": "number"},
        "tokens_per_second": {"type": "number"},
    }, ["prompt_tokens", "completion_tokens", "total_duration_ms", "load_duration_ms",
        "eval_duration_ms", "tokens_per_second"]),
    "Message": obj({
        "id": ID, "conversation_id": ID,
        "role": {"type": "string", "enum": ["system", "user", "assistant"]},
        "content": STR, "thinking": nullable(STR), "model": nullable(STR),
        "status": {"type": "string", "enum": ["complete", "incomplete", "error"]},
        "created_at": TIME, "usage": nullable(ref("Usage")),
    }, ["id", "conversation_id", "role", "content", "thinking", "model", "status", "created_at",
        "usage"]),
    "Exchange": obj({"user_message": ref("Message"), "assistant_message": ref("Message")},
                    ["user_message", "assistant_message"]),
    "ConversationExport": obj({
        "conversations": {"type": "array", "items": {"type": "object"}},
    }, ["conversations"], extra=True),
    "ImportResult": obj({"imported": INT, "ids": {"type": "array", "items": ID}},
                        ["imported", "ids"]),
    "ShareLink": obj({"token": STR, "url": {"type": "string", "format": "uri"}},
                     ["token", "url"]),
    "SharedConversation": obj({
        "title": nullable(STR), "model": nullable(STR), "created_at": TIME,
        "messages": {"type": "array", "items": obj({
            "role": {"type": "string", "enum": ["system", "user", "assistant"]},
            "content": STR, "created_at": TIME}, ["role", "content", "created_at"])},
    }, ["title", "model", "created_at", "messages"]),
    "Model": obj({
        "name": STR, "size": INT, "family": nullable(STR), "parameter_size": nullable(STR),
        "quantization_level": nullable(STR), "modified_at": TIME,
    }, ["name", "size", "family", "parameter_size", "quantization_level", "modified_at"]),
    "Health": obj({"status": {"type": "string", "const": "ok"}}, ["status"]),
    "Check": obj({
        "status": {"type": "string", "enum": ["ok", "error"]}, "latency_ms": {"type": "number"},
        "version": nullable(STR), "schema_version": INT,
    }, ["status", "latency_ms"]),
    "Readiness": obj({
        "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
        "checks": obj({"sqlite": ref("Check"), "kv": ref("Check"), "ollama": ref("Check")},
                      ["sqlite", "kv", "ollama"]),
    }, ["status", "checks"]),
    "Info": obj({"name": STR, "version": STR, "components": {"type": "array", "items": STR}},
                ["name", "version", "components"]),
}

# Request bodies.
USERNAME = {"type": "string", "minLength": 3, "maxLength": 32, "pattern": "^[A-Za-z0-9_.-]+$"}
PASSWORD = {"type": "string", "minLength": 12, "maxLength": 128}
TAGS = {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 32}}
OPTIONS = {"type": ["object", "null"]}
CONVERSATION_FIELDS = {
    "title": nullable({"type": "string", "maxLength": 200}), "model": nullable(STR),
    "system_prompt": nullable({"type": "string", "maxLength": 8000}), "options": OPTIONS,
    "tags": TAGS,
}

STREAM_DOC = (
    "With `stream: true` (the default): `text/event-stream` with `event: start` "
    "(`{user_message, assistant_message_id}`), `event: delta` (`{content}`) per Ollama chunk, "
    "`event: thinking` (`{content}`) per reasoning chunk, then `event: done` (`{message}`) or "
    "`event: error` (`{error: {code, message}}`, the partial answer stored `incomplete`). "
    "With `stream: false`: `201` and `{user_message, assistant_message}`."
)

# (method, path, operationId, tag, summary, auth, body, responses, extra)
# auth: "public" | "user" | "admin" | "metrics"
# responses: {status: schema-name | (content-type, schema, description) | None}
ROUTES = [
    ("post", "/api/auth/register", "registerUser", "auth", "Create an account", "public",
     obj({"username": USERNAME, "password": PASSWORD, "display_name": nullable({"type": "string", "maxLength": 100}),
          "email": nullable({"type": "string", "format": "email"})}, ["username", "password"]),
     {"201": "AuthResponse", "403": "Forbidden", "409": "Conflict", "429": "RateLimited"}, {}),
    ("post", "/api/auth/login", "login", "auth", "Sign in", "public",
     obj({"username": STR, "password": STR}, ["username", "password"]),
     {"200": "AuthResponse", "401": "Unauthenticated", "403": "Forbidden", "429": "RateLimited"}, {}),
    ("post", "/api/auth/refresh", "refreshTokens", "auth", "Trade a refresh token for a new pair", "public",
     obj({"refresh_token": STR}, ["refresh_token"]),
     {"200": "AuthResponse", "401": "Unauthenticated", "429": "RateLimited"}, {}),
    ("post", "/api/auth/logout", "logout", "auth", "End the current session", "user",
     obj({"refresh_token": STR}), {"204": None}, {}),
    ("get", "/api/auth/me", "getMe", "auth", "The signed-in user", "user", None,
     {"200": "UserEnvelope"}, {}),
    ("patch", "/api/auth/me", "updateMe", "auth", "Update profile", "user",
     obj({"display_name": nullable({"type": "string", "maxLength": 100}),
          "email": nullable({"type": "string", "format": "email"})}),
     {"200": "UserEnvelope"}, {}),
    ("post", "/api/auth/password", "changePassword", "auth", "Change password; other sessions end", "user",
     obj({"current_password": STR, "new_password": PASSWORD}, ["current_password", "new_password"]),
     {"204": None, "403": "Forbidden"}, {}),
    ("get", "/api/auth/sessions", "listSessions", "auth", "Sessions of the signed-in user", "user", None,
     {"200": ("application/json", obj({"items": {"type": "array", "items": ref("Session")}}, ["items"]), "Sessions")}, {}),
    ("delete", "/api/auth/sessions/{id}", "revokeSession", "auth", "End a session", "user", None,
     {"204": None, "404": "NotFound"}, {}),
    ("post", "/api/auth/keys", "createApiKey", "auth", "Create an API key (shown once)", "user",
     obj({"name": {"type": "string", "minLength": 1, "maxLength": 100},
          "expires_in_days": nullable({"type": "integer", "minimum": 1, "maximum": 3650})}, ["name"]),
     {"201": "ApiKeyCreated"}, {}),
    ("get", "/api/auth/keys", "listApiKeys", "auth", "API keys of the signed-in user", "user", None,
     {"200": ("application/json", obj({"items": {"type": "array", "items": ref("ApiKey")}}, ["items"]), "API keys")}, {}),
    ("delete", "/api/auth/keys/{id}", "revokeApiKey", "auth", "Revoke an API key at once", "user", None,
     {"204": None, "404": "NotFound"}, {}),
    ("post", "/api/auth/keys/{id}/rotate", "rotateApiKey", "auth", "Replace an API key; the old one works for grace_seconds", "user",
     obj({"grace_seconds": {"type": "integer", "minimum": 0, "maximum": 604800}}),
     {"201": "ApiKeyCreated", "404": "NotFound"}, {}),
    ("get", "/api/admin/users", "listUsers", "admin", "All users", "admin", None,
     {"200": ("application/json", page(ref("User")), "A page of users")}, {"paged": True}),
    ("patch", "/api/admin/users/{id}", "updateUser", "admin", "Change a user's role or status", "admin",
     obj({"role": {"type": "string", "enum": ["admin", "user"]},
          "status": {"type": "string", "enum": ["active", "pending", "disabled"]}}),
     {"200": "UserEnvelope", "404": "NotFound", "409": "Conflict"}, {}),
    ("delete", "/api/admin/users/{id}", "deleteUser", "admin", "Delete a user and all their data", "admin", None,
     {"204": None, "404": "NotFound", "409": "Conflict"}, {}),

    ("post", "/api/conversations", "createConversation", "conversations", "Start a conversation", "user",
     obj(CONVERSATION_FIELDS), {"201": "ConversationEnvelope"}, {}),
    ("get", "/api/conversations", "listConversations", "conversations", "Conversations, newest first; `q` searches", "user", None,
     {"200": ("application/json", page(ref("Conversation")), "A page of conversations")},
     {"paged": True, "query": [
         ("archived", {"type": "boolean", "default": False}, "Archived ones instead of active ones."),
         ("pinned", {"type": "boolean"}, "Only pinned ones."),
         ("tag", STR, "Only those with this tag."),
         ("q", STR, "Full-text search over titles and messages; items then have `snippet`.")]}),
    ("get", "/api/conversations/export", "exportAllConversations", "conversations", "Every conversation with its messages", "user", None,
     {"200": ("application/json", ref("ConversationExport"), "The export document")}, {}),
    ("post", "/api/conversations/import", "importConversations", "conversations", "Import what export gave", "user",
     ref("ConversationExport"), {"201": "ImportResult"}, {}),
    ("get", "/api/conversations/{id}", "getConversation", "conversations", "One conversation", "user", None,
     {"200": "ConversationEnvelope", "404": "NotFound"}, {}),
    ("patch", "/api/conversations/{id}", "updateConversation", "conversations", "Change a conversation", "user",
     obj({**CONVERSATION_FIELDS, "pinned": BOOL, "archived": BOOL}),
     {"200": "ConversationEnvelope", "404": "NotFound"}, {}),
    ("delete", "/api/conversations/{id}", "deleteConversation", "conversations", "Delete with messages and share link", "user", None,
     {"204": None, "404": "NotFound"}, {}),
    ("get", "/api/conversations/{id}/messages", "listMessages", "conversations", "Messages, oldest first", "user", None,
     {"200": ("application/json", page(ref("Message")), "A page of messages"), "404": "NotFound"}, {"paged": True}),
    ("get", "/api/conversations/{id}/export", "exportConversation", "conversations", "Download one conversation", "user", None,
     {"200": ("multi", None, "A download (`content-disposition: attachment`)"), "404": "NotFound"},
     {"query": [("format", {"type": "string", "enum": ["json", "markdown"], "default": "json"}, "File format.")]}),
    ("post", "/api/conversations/{id}/share", "shareConversation", "sharing", "Create a public read-only link", "user", None,
     {"201": "ShareLink", "404": "NotFound"}, {}),
    ("delete", "/api/conversations/{id}/share", "unshareConversation", "sharing", "Revoke the public link", "user", None,
     {"204": None, "404": "NotFound"}, {}),
    ("get", "/api/shared/{token}", "getSharedConversation", "sharing", "A shared conversation (no sign-in)", "public", None,
     {"200": "SharedConversation", "404": "NotFound"}, {}),

    ("post", "/api/chat/{conversation_id}/messages", "sendMessage", "chat", "Send a message; the answer streams", "user",
     obj({"content": {"type": "string", "minLength": 1}, "model": STR, "options": OPTIONS,
          "stream": {"type": "boolean", "default": True}}, ["content"]),
     {"200": ("text/event-stream", STR, STREAM_DOC), "201": "Exchange", "404": "NotFound",
      "429": "RateLimited", "502": "Upstream", "503": "Upstream", "504": "Upstream"}, {}),
    ("post", "/api/chat/{conversation_id}/regenerate", "regenerateAnswer", "chat", "A new answer to the last user message", "user",
     obj({"model": STR, "options": OPTIONS, "stream": {"type": "boolean", "default": True}}),
     {"200": ("text/event-stream", STR, STREAM_DOC), "201": "Exchange", "404": "NotFound",
      "429": "RateLimited", "502": "Upstream", "503": "Upstream", "504": "Upstream"}, {}),
    ("post", "/api/chat/{conversation_id}/stop", "stopGeneration", "chat", "Stop the running answer (kept as incomplete)", "user", None,
     {"204": None, "404": "NotFound"}, {}),
    ("get", "/api/models", "listModels", "models", "Models Ollama has", "user", None,
     {"200": ("application/json", obj({"items": {"type": "array", "items": ref("Model")}}, ["items"]), "Models"),
      "502": "Upstream", "503": "Upstream"}, {}),
    ("get", "/api/models/{name}", "getModel", "models", "A model's details from Ollama", "user", None,
     {"200": ("application/json", {"type": "object"}, "Ollama's details of the model"), "404": "NotFound",
      "502": "Upstream", "503": "Upstream"}, {}),
    ("delete", "/api/models/{name}", "deleteModel", "models", "Remove a model from Ollama", "admin", None,
     {"204": None, "404": "NotFound", "502": "Upstream", "503": "Upstream"}, {}),
    ("post", "/api/models/pull", "pullModel", "models", "Download a model, with progress", "admin",
     obj({"name": {"type": "string", "minLength": 1}}, ["name"]),
     {"200": ("text/event-stream", STR,
              "`event: progress` with `{status, completed, total}`, then `event: done` or `event: error`."),
      "502": "Upstream", "503": "Upstream"}, {}),

    ("get", "/health", "health", "health", "Liveness", "public", None, {"200": "Health"}, {}),
    ("get", "/health/ready", "readiness", "health", "Readiness of SQLite, key-value and Ollama", "public", None,
     {"200": "Readiness", "503": ("application/json", ref("Readiness"), "SQLite or key-value failed")}, {}),
    ("get", "/info", "info", "health", "Name, version, components", "public", None, {"200": "Info"}, {}),
    ("get", "/metrics", "metrics", "health", "Prometheus metrics", "metrics", None,
     {"200": ("text/plain", STR, "Prometheus text exposition")}, {}),
    ("get", "/openapi.json", "openapi", "health", "This document", "public", None,
     {"200": ("application/json", {"type": "object"}, "OpenAPI 3.1 document")}, {}),
]

ERROR_RESPONSES = {
    "BadRequest": "Malformed JSON (`INVALID_JSON`), a wrong or unknown field (`VALIDATION_ERROR`, `details.field`), or a weak password (`WEAK_PASSWORD`).",
    "Unauthenticated": "Missing, invalid or expired credentials (`UNAUTHENTICATED`, `INVALID_CREDENTIALS`).",
    "Forbidden": "Not allowed (`FORBIDDEN`, `ACCOUNT_PENDING`, `ACCOUNT_DISABLED`, `SIGNUP_DISABLED`).",
    "NotFound": "No such resource, or not yours (`NOT_FOUND`, `MODEL_NOT_FOUND`).",
    "Conflict": "Conflicts with the current state (`USERNAME_TAKEN`, `CONFLICT`).",
    "PayloadTooLarge": "Body above the limit (`PAYLOAD_TOO_LARGE`).",
    "UnsupportedMediaType": "Body not sent as `application/json` (`UNSUPPORTED_MEDIA_TYPE`).",
    "RateLimited": "Too many requests (`RATE_LIMITED`); retry after `retry-after` seconds.",
    "Upstream": "Ollama failed (`OLLAMA_UNAVAILABLE` 503, `UPSTREAM_ERROR` 502, `UPSTREAM_TIMEOUT` 504).",
    "Internal": "Something failed on the server (`INTERNAL`).",
}


def error_response(description, extra_headers=None):
    headers = {"x-request-id": {"$ref": "#/components/headers/XRequestId"}}
    headers.update(extra_headers or {})
    return {"description": description, "headers": headers,
            "content": {"application/json": {"schema": ref("Error")}}}


def build():
    responses = {name: error_response(desc) for name, desc in ERROR_RESPONSES.items()}
    responses["Unauthenticated"]["headers"]["WWW-Authenticate"] = {
        "schema": {"type": "string", "const": "Bearer"}, "description": "Always `Bearer`."}
    for h in ["retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"]:
        responses["RateLimited"]["headers"][h] = {"schema": INT}
    paths = {}
    for method, path, op_id, tag, summary, auth, body, resp, extra in ROUTES:
        op = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": {}}
        params = [{"name": seg[1:-1], "in": "path", "required": True, "schema": STR}
                  for seg in path.split("/") if seg.startswith("{")]
        if extra.get("paged"):
            params += [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                {"name": "cursor", "in": "query", "description": "From `next_cursor`; opaque.", "schema": STR},
            ]
        for name, schema, desc in extra.get("query", []):
            params.append({"name": name, "in": "query", "description": desc, "schema": schema})
        if params:
            op["parameters"] = params
        if body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": body}}}
        if auth == "public":
            op["security"] = []
        elif auth == "admin":
            op["description"] = "Admins only (`403 FORBIDDEN` for others)."
        elif auth == "metrics":
            op["description"] = "An admin's token, or the `metrics_token` variable as bearer."
        for status, what in resp.items():
            headers = {"x-request-id": {"$ref": "#/components/headers/XRequestId"}}
            if what is None:
                op["responses"][status] = {"description": "Done.", "headers": headers}
            elif isinstance(what, tuple):
                ctype, schema, desc = what
                if ctype == "multi":
                    content = {"application/json": {"schema": {"type": "object"}},
                               "text/markdown": {"schema": STR}}
                    headers["content-disposition"] = {"schema": STR}
                else:
                    content = {ctype: {"schema": schema}}
                op["responses"][status] = {"description": desc, "headers": headers,
                                           "content": content}
            elif what in ERROR_RESPONSES:
                op["responses"][status] = {"$ref": f"#/components/responses/{what}"}
            else:
                op["responses"][status] = {"description": "Success.", "headers": headers,
                                           "content": {"application/json": {"schema": ref(what)}}}
        if auth != "public":
            op["responses"].setdefault("401", {"$ref": "#/components/responses/Unauthenticated"})
        if auth in ("admin",):
            op["responses"].setdefault("403", {"$ref": "#/components/responses/Forbidden"})
        if body is not None:
            op["responses"].setdefault("400", {"$ref": "#/components/responses/BadRequest"})
            op["responses"].setdefault("413", {"$ref": "#/components/responses/PayloadTooLarge"})
            op["responses"].setdefault("415", {"$ref": "#/components/responses/UnsupportedMediaType"})
        if extra.get("paged") or extra.get("query"):
            op["responses"].setdefault("400", {"$ref": "#/components/responses/BadRequest"})
        op["responses"].setdefault("500", {"$ref": "#/components/responses/Internal"})
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ollama Chat API",
            "version": "1.0.0",
            "description": "Multi-user chat backend for Ollama. Errors are always "
                           "`{\"error\": {\"code\", \"message\", \"details\"?}, \"request_id\"}`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": t} for t in ["auth", "admin", "conversations", "sharing", "chat", "models", "health"]],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An access token from login/refresh, or an API key (`ock_...`)."}},
            "headers": {"XRequestId": {
                "description": "The request's id: the client's `x-request-id` if sane, else generated.",
                "schema": STR}},
            "responses": responses,
            "schemas": SCHEMAS,
        },
    }


if __name__ == "__main__":
    out = pathlib.Path(__file__).resolve().parent.parent / "components" / "health" / "openapi.json"
    doc = build()
    out.write_text(json.dumps(doc, indent=2) + "\n")
    n = sum(len(v) for v in doc["paths"].values())
    print(f"{len(doc['paths'])} paths, {n} operations -> {out}")
