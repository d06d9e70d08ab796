#!/usr/bin/env python3
"""Generates components/health/openapi.json (served at GET /openapi.json) from the route table
below, which follows shared/API.md. Edit this file, then run:

    python3 scripts/openapi.py
"""
import json
import pathlib
import sys

ERROR_CODES = [
    "INVALID_JSON", "VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE",
    "UNAUTHENTICATED", "INVALID_CREDENTIALS", "FORBIDDEN", "ACCOUNT_PENDING", "ACCOUNT_DISABLED",
    "SIGNUP_DISABLED", "USERNAME_TAKEN", "WEAK_PASSWORD", "NOT_FOUND", "METHOD_NOT_ALLOWED",
    "CONFLICT", "RATE_LIMITED", "QUOTA_EXCEEDED", "MODEL_NOT_FOUND", "OLLAMA_UNAVAILABLE", "UPSTREAM_ERROR",
    "UPSTREAM_TIMEOUT", "INTERNAL",
]


# ---------------------------------------------------------------------------------------------
# Helpers


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema):
    """3.1 style: a type list with "null" (or anyOf for a $ref)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def obj(props, required=None, extra=False, description=None):
    s = {"type": "object"}
    if description:
        s["description"] = description
    s["properties"] = props
    if required:
        s["required"] = required
    if not extra:
        s["additionalProperties"] = False
    return s


def arr(items, **kw):
    return {"type": "array", "items": items, **kw}


def d(schema, description):
    return {**schema, "description": description}


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC."}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
ID = {"type": "string", "description": "Opaque, time-sortable id."}
ROLE = {"type": "string", "enum": ["admin", "user"]}
USER_STATUS = {"type": "string", "enum": ["active", "pending", "disabled"]}
MSG_ROLE = {"type": "string", "enum": ["system", "user", "assistant"]}
MSG_STATUS = {"type": "string", "enum": ["complete", "incomplete", "error"]}
# The options Ollama knows, with the type it requires (crates/domain/src/conversation.rs,
# KNOWN_OPTIONS); others pass through. The test
# foundation::openapi_types_the_options_ollama_knows_as_the_app_checks_them fails if they part.
OPTION_NUMBERS = ["num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p",
                  "repeat_last_n", "temperature", "repeat_penalty", "presence_penalty",
                  "frequency_penalty", "mirostat", "mirostat_tau", "mirostat_eta", "tfs_z", "num_ctx",
                  "num_batch", "num_gpu", "main_gpu", "num_thread"]
OPTION_BOOLEANS = ["use_mmap", "use_mlock", "numa", "low_vram", "vocab_only", "f16_kv",
                   "penalize_newline"]
MODEL_OPTIONS = {"type": "object",
           "description": "Passed to Ollama's `options` (e.g. `{\"temperature\": 0.2}`). "
                          "Values are numbers (at most 2^53 in size), strings, booleans or lists of them; "
                          "at most 4 KiB. An option Ollama knows must have the type Ollama requires "
                          "(else `400 VALIDATION_ERROR` naming `options.<name>`); others pass through.",
           "properties": {**{n: {"type": "number"} for n in OPTION_NUMBERS},
                          **{n: {"type": "boolean"} for n in OPTION_BOOLEANS},
                          "stop": {"type": "array", "items": {"type": "string"}}}}
OPTIONS = {"anyOf": [{"$ref": "#/components/schemas/ModelOptions"}, {"type": "null"}],
           "description": "Ollama's `options` (see ModelOptions); `null` when unset."}

# Request-field limits from API.md.
USERNAME = {"type": "string", "minLength": 3, "maxLength": 32, "pattern": "^[A-Za-z0-9_.-]+$",
            "description": "3–32 of `[A-Za-z0-9_.-]`, unique case-insensitively."}
PASSWORD = {"type": "string", "minLength": 12, "maxLength": 128,
            "description": "12–128 characters; common or guessable ones are refused with `400 WEAK_PASSWORD`."}
DISPLAY_NAME = {"type": ["string", "null"], "maxLength": 100}
EMAIL = {"type": ["string", "null"], "format": "email", "maxLength": 254}
TITLE = {"type": ["string", "null"], "maxLength": 200}
MODEL_NAME = {"type": ["string", "null"], "description": "An Ollama model name, e.g. `llama3.2:3b`."}
SYSTEM_PROMPT = {"type": ["string", "null"], "maxLength": 8000,
                 "description": "At most 8,000 characters; no control characters but tabs and line breaks."}
TAGS = {"type": "array", "maxItems": 10, "items": {"type": "string", "minLength": 1, "maxLength": 32},
        "description": "At most 10 tags of at most 32 characters."}


def page(item_ref, description):
    return obj({"items": arr(item_ref), "next_cursor": d(
        {"type": ["string", "null"]}, "Pass as `?cursor=` for the next page; `null` on the last page.")},
        ["items", "next_cursor"], description=description)


def items_of(item_ref, description):
    return obj({"items": arr(item_ref)}, ["items"], description=description)


# ---------------------------------------------------------------------------------------------
# Schemas

MESSAGE_PROPS = {
    "id": ID, "conversation_id": ID, "role": MSG_ROLE, "content": STR,
    "thinking": d({"type": ["string", "null"]}, "The reasoning a thinking model sent, else `null`."),
    "model": {"type": ["string", "null"]}, "status": MSG_STATUS, "created_at": TIME,
    "usage": ref("Usage"),
}

CONVERSATION_PROPS = {
    "id": ID, "title": {"type": ["string", "null"], "maxLength": 200},
    "model": {"type": ["string", "null"]},
    "system_prompt": {"type": ["string", "null"], "maxLength": 8000},
    "options": OPTIONS, "pinned": BOOL, "archived": BOOL, "tags": arr(STR),
    "created_at": TIME, "updated_at": TIME, "message_count": {"type": "integer", "minimum": 0},
}
CONVERSATION_REQUIRED = ["id", "title", "model", "system_prompt", "options", "pinned", "archived",
                         "tags", "created_at", "updated_at", "message_count"]

KEY_BUDGET = d({"type": ["integer", "null"], "minimum": 1},
               "The key's own daily token budget (`null`: none); its user's quota applies either way.")

SCHEMAS = {
    "ModelOptions": MODEL_OPTIONS,
    # --- errors ---
    "Error": obj({
        "error": obj({
            "code": {"type": "string", "enum": ERROR_CODES},
            "message": d(STR, "A human sentence. Never a stack trace, SQL, file path or secret."),
            "details": obj({
                "field": d(STR, "The offending field (`VALIDATION_ERROR`, `WEAK_PASSWORD`, `USERNAME_TAKEN`)."),
                "reason": d(STR, "Why a password is weak (`WEAK_PASSWORD`)."),
                "retry_after": d(INT, "Seconds to wait (`RATE_LIMITED`)."),
                "limit_bytes": d(INT, "The body limit (`PAYLOAD_TOO_LARGE`)."),
                "line": d(INT, "Where JSON parsing failed (`INVALID_JSON`)."),
                "column": d(INT, "Where JSON parsing failed (`INVALID_JSON`)."),
                "limit": d(INT, "The quota's limit in tokens (`QUOTA_EXCEEDED`)."),
                "used": d(INT, "Tokens used against it (`QUOTA_EXCEEDED`)."),
                "resets_at": d(STR, "When it starts afresh (`QUOTA_EXCEEDED`)."),
            }, extra=True, description="Optional, code-specific."),
        }, ["code", "message"]),
        "request_id": d(STR, "Same value as the `x-request-id` response header."),
    }, ["error", "request_id"], description="The error envelope every failure uses."),

    # --- users and auth ---
    "User": obj({
        "id": ID, "username": STR, "display_name": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]}, "role": ROLE, "status": USER_STATUS, "created_at": TIME,
    }, ["id", "username", "display_name", "email", "role", "status", "created_at"]),
    "UserEnvelope": obj({"user": ref("User")}, ["user"], description="`{user}`"),
    "AuthResponse": obj({
        "user": ref("User"),
        "access_token": d(STR, "Short-lived bearer token (15 minutes by default)."),
        "refresh_token": d(STR, "Single use; trade it at `/api/auth/refresh` (valid 30 days, sliding)."),
        "token_type": {"type": "string", "const": "Bearer"},
        "expires_in": d({"type": "integer", "minimum": 1}, "Seconds until the access token expires."),
    }, ["user", "access_token", "refresh_token", "token_type", "expires_in"],
        description="A token pair and the user it belongs to."),
    "CookieSession": obj({
        "user": ref("User"),
        "token_type": {"type": "string", "const": "Cookie"},
        "expires_in": d({"type": "integer", "minimum": 1}, "Seconds until the access cookie expires."),
        "csrf_token": d(STR, "The `csrf` cookie's value: send it as `x-csrf-token` on every request that is not "
                             "GET, HEAD or OPTIONS."),
    }, ["user", "token_type", "expires_in", "csrf_token"],
        description="Cookie mode (`x-auth-mode: cookie`): the tokens are in `Set-Cookie` (`access_token`, "
                    "`refresh_token`, both HttpOnly), never in the body."),
    "SessionResponse": {
        "description": "A token pair (bearer mode) or, with `x-auth-mode: cookie`, the cookie session.",
        "oneOf": [ref("AuthResponse"), ref("CookieSession")],
    },
    "RegisterResponse": {
        "description": "Tokens (or, in cookie mode, the cookie session) when the account is active at once "
                       "(first user, or `signup=open`); only `{user}` (status `pending`, no tokens) when "
                       "`signup=approval`.",
        "oneOf": [ref("AuthResponse"), ref("CookieSession"), ref("UserEnvelope")],
    },
    "Session": obj({
        "id": ID, "created_at": TIME, "last_used_at": TIME, "expires_at": TIME,
        "user_agent": {"type": ["string", "null"]}, "ip": {"type": ["string", "null"]},
        "current": d(BOOL, "Whether this is the session of the token making the request."),
    }, ["id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"]),
    "SessionList": items_of(ref("Session"), "`{items: [session]}`"),
    "ApiKey": obj({
        "id": ID, "name": STR,
        "prefix": d(STR, "The key's first characters, enough to tell keys apart."),
        "created_at": TIME, "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        "max_tokens_per_day": KEY_BUDGET,
    }, ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "max_tokens_per_day"]),
    "ApiKeyList": items_of(ref("ApiKey"), "`{items: [api key]}`"),
    "ApiKeyCreated": obj({
        "id": ID, "name": STR,
        "key": d(STR, "The secret key. Shown this once; use it as a bearer token."),
        "prefix": d(STR, "The key's first characters, enough to tell keys apart."),
        "created_at": TIME, "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "max_tokens_per_day": KEY_BUDGET,
    }, ["id", "name", "key", "prefix", "created_at", "expires_at", "max_tokens_per_day"]),
    "UserPage": page(ref("User"), "A page of users."),

    # --- conversations and messages ---
    "Conversation": obj({
        **CONVERSATION_PROPS,
        "snippet": d(STR, "Only in search results (`?q=`): the best-matching passage of a message or the "
                           "title, matched words wrapped in `**` (Markdown bold; plain text, never HTML)."),
    }, CONVERSATION_REQUIRED),
    "ConversationEnvelope": obj({"conversation": ref("Conversation")}, ["conversation"],
                                description="`{conversation}`"),
    "ConversationPage": page(ref("Conversation"), "A page of conversations, newest `updated_at` first."),
    "Usage": {
        "type": ["object", "null"],
        "description": "Token counts and timings from Ollama's final chunk; `null` when there are none.",
        "properties": {
            "prompt_tokens": {"type": "integer", "minimum": 0},
            "completion_tokens": {"type": "integer", "minimum": 0},
            "total_duration_ms": {"type": "number", "minimum": 0},
            "load_duration_ms": {"type": "number", "minimum": 0},
            "eval_duration_ms": {"type": "number", "minimum": 0},
            "tokens_per_second": {"type": "number", "minimum": 0},
        },
        "required": ["prompt_tokens", "completion_tokens", "total_duration_ms", "load_duration_ms",
                     "eval_duration_ms", "tokens_per_second"],
        "additionalProperties": False,
    },
    "Message": obj(MESSAGE_PROPS, list(MESSAGE_PROPS)),
    "MessagePage": page(ref("Message"), "A page of messages, oldest first."),
    "MessageExchange": obj({"user_message": ref("Message"), "assistant_message": ref("Message")},
                           ["user_message", "assistant_message"],
                           description="The answer of a `stream: false` request."),

    # --- server-sent event payloads (the `data:` of each event) ---
    "ChatStartEvent": obj({"user_message": ref("Message"), "assistant_message_id": ID},
                          ["user_message", "assistant_message_id"], description="`event: start`"),
    "ChatDeltaEvent": obj({"content": STR}, ["content"],
                          description="`event: delta`, one per Ollama chunk with content."),
    "ChatThinkingEvent": obj({"content": STR}, ["content"],
                             description="`event: thinking`, one per chunk of a thinking model's reasoning."),
    "ChatDoneEvent": obj({"message": ref("Message")}, ["message"],
                         description="`event: done`: the stored assistant message, with `usage`."),
    "StreamErrorEvent": obj({"error": obj({"code": {"type": "string", "enum": ERROR_CODES}, "message": STR},
                                          ["code", "message"])}, ["error"],
                            description="`event: error`; in chat the partial answer is stored `incomplete`."),
    "PullProgressEvent": obj({
        "status": d(STR, "Ollama's status line, e.g. `pulling manifest`, `downloading`, `success`."),
        "completed": d({"type": ["integer", "null"], "minimum": 0}, "Bytes done; `null` when Ollama gives none."),
        "total": d({"type": ["integer", "null"], "minimum": 0}, "Bytes in all; `null` when Ollama gives none."),
        "server": d(STR, "The Ollama server this progress comes from."),
    }, ["status", "completed", "total", "server"], description="`event: progress` of a model pull."),
    "PullErrorEvent": obj({"error": obj({"code": {"type": "string", "enum": ERROR_CODES}, "message": STR,
                                         "server": d(STR, "The Ollama server that failed.")},
                                        ["code", "message", "server"])}, ["error"],
                          description="`event: error` of a model pull: the first failure ends it."),
    "PullDoneEvent": obj({"status": d(STR, "Ollama's last status, normally `success`.")}, ["status"],
                         description="`event: done` of a model pull."),

    # --- export / import ---
    "ExportedConversation": obj({
        **{k: v for k, v in CONVERSATION_PROPS.items()},
        "messages": arr(ref("Message"), description="Oldest first."),
    }, CONVERSATION_REQUIRED + ["messages"], description="A conversation with all its messages."),
    "ExportDocument": obj({
        "version": d({"type": "integer", "const": 1}, "Format version."),
        "exported_at": TIME,
        "conversations": arr(ref("ExportedConversation")),
    }, ["version", "exported_at", "conversations"],
        description="What `GET /api/conversations/export` (and `export?format=json`, with one conversation) "
                    "gives, and what `POST /api/conversations/import` takes."),
    "ImportedMessage": obj({
        **MESSAGE_PROPS,
        "content": STR,
        "usage": ref("Usage"),
    }, ["role", "content"], description="A message as export gives it; ids and times are replaced on import."),
    "ImportedConversation": obj({
        **{k: v for k, v in CONVERSATION_PROPS.items()},
        "tags": TAGS,
        "messages": arr(ref("ImportedMessage")),
    }, ["messages"], description="A conversation as export gives it; ids and times are replaced on import."),
    "ImportDocument": obj({
        "version": {"type": "integer", "const": 1},
        "exported_at": TIME,
        "conversations": arr(ref("ImportedConversation")),
    }, ["conversations"], description="The JSON that export gives."),
    "ImportResult": obj({"imported": {"type": "integer", "minimum": 0}, "ids": arr(ID)},
                        ["imported", "ids"], description="`{imported: N, ids: [...]}`, ids of the new conversations."),

    # --- sharing ---
    "ShareLink": obj({"token": STR, "url": d({"type": "string", "format": "uri-reference"},
                                             "Where the shared conversation can be read without signing in.")},
                     ["token", "url"]),
    "SharedMessage": obj({"role": MSG_ROLE, "content": STR, "created_at": TIME},
                         ["role", "content", "created_at"]),
    "SharedConversation": obj({
        "title": {"type": ["string", "null"]}, "model": {"type": ["string", "null"]}, "created_at": TIME,
        "messages": arr(ref("SharedMessage")),
    }, ["title", "model", "created_at", "messages"], description="A read-only view of a shared conversation."),

    # --- models ---
    "Model": obj({
        "name": STR, "size": d({"type": "integer", "minimum": 0}, "Bytes."),
        "family": {"type": ["string", "null"]}, "parameter_size": {"type": ["string", "null"]},
        "quantization_level": {"type": ["string", "null"]}, "modified_at": TIME,
        "servers": d(arr(STR), "The Ollama servers that have it (`GET /api/models` only)."),
    }, ["name", "size", "family", "parameter_size", "quantization_level", "modified_at"]),
    "ModelList": items_of(ref("Model"), "`{items: [model]}`: every reachable Ollama server's models."),
    "OllamaServer": obj({
        "url": STR,
        "status": {"type": "string", "enum": ["up", "down", "cooling"]},
        "version": {"type": ["string", "null"]},
        "models": arr(STR),
        "running": d(INT, "Answers in flight on it, across every instance."),
        "latency_ms": {"type": "number", "minimum": 0},
        "last_error": d({"type": ["string", "null"]}, "The last failure, in words."),
        "cooling_until": d({"type": ["string", "null"], "format": "date-time"}, "Skipped for chat until then."),
    }, ["url", "status", "version", "models", "running", "latency_ms", "last_error", "cooling_until"]),
    "OllamaServerList": items_of(ref("OllamaServer"), "`{items: [server]}` in the configured order."),
    "ModelDetails": obj({
        "modelfile": STR, "parameters": STR, "template": STR, "details": {"type": "object"},
        "model_info": {"type": "object"}, "capabilities": arr(STR), "modified_at": {"type": "string"},
    }, extra=True, description="The model's details as Ollama's `/api/show` gives them."),

    # --- health ---
    "Health": obj({"status": {"type": "string", "const": "ok"}}, ["status"]),
    "Check": obj({
        "status": {"type": "string", "enum": ["ok", "error"]},
        "latency_ms": {"type": "number", "minimum": 0},
        "schema_version": d(INT, "SQLite only: the applied migration version."),
    }, ["status", "latency_ms"]),
    "OllamaCheck": obj({
        "status": {"type": "string", "enum": ["ok", "error"]},
        "latency_ms": {"type": "number", "minimum": 0},
        "version": d({"type": ["string", "null"]}, "The first server up's version; `null` when none is."),
        "servers": arr(obj({"url": STR, "status": {"type": "string", "enum": ["up", "down"]},
                            "latency_ms": {"type": "number", "minimum": 0},
                            "version": {"type": ["string", "null"]}},
                           ["url", "status", "latency_ms", "version"])),
    }, ["status", "latency_ms", "version", "servers"]),
    "Readiness": obj({
        "status": d({"type": "string", "enum": ["ok", "degraded", "down"]},
                    "`down` (503) when SQLite or KV fail; `degraded` (200) when only Ollama is unreachable."),
        "checks": obj({"sqlite": ref("Check"), "kv": ref("Check"), "ollama": ref("OllamaCheck")},
                      ["sqlite", "kv", "ollama"]),
    }, ["status", "checks"]),
    "Info": obj({"name": STR, "version": STR, "components": arr(STR)}, ["name", "version", "components"]),

    # --- request bodies ---
    "RegisterRequest": obj({"username": USERNAME, "password": PASSWORD, "display_name": DISPLAY_NAME,
                            "email": EMAIL}, ["username", "password"]),
    "LoginRequest": obj({"username": STR, "password": STR}, ["username", "password"]),
    "RefreshRequest": obj({"refresh_token": STR}, ["refresh_token"]),
    "LogoutRequest": obj({"refresh_token": d(STR, "Also end the session of this refresh token (same user).")}),
    "UpdateMeRequest": obj({"display_name": DISPLAY_NAME, "email": EMAIL}),
    "ChangePasswordRequest": obj({"current_password": STR, "new_password": PASSWORD},
                                 ["current_password", "new_password"]),
    "CreateApiKeyRequest": obj({
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "expires_in_days": d({"type": ["integer", "null"], "minimum": 1, "maximum": 3650},
                             "Omitted or `null`: the key never expires."),
        "max_tokens_per_day": KEY_BUDGET,
    }, ["name"]),
    "RotateApiKeyRequest": obj({
        "grace_seconds": d({"type": ["integer", "null"], "minimum": 0, "maximum": 604800, "default": 0},
                           "How long the old key keeps working."),
    }),
    "UpdateUserRequest": obj({
        "role": ROLE, "status": USER_STATUS,
        "quota": {"type": ["object", "null"], "additionalProperties": False,
                  "description": "The user's own token quota; `null` returns the user to the defaults. A limit "
                                 "left out takes its default; `0` is no limit.",
                  "properties": {"tokens_per_day": {"type": ["integer", "null"], "minimum": 0},
                                 "tokens_per_month": {"type": ["integer", "null"], "minimum": 0}}},
    }),
    "QuotaLimits": obj({"tokens_per_day": {"type": ["integer", "null"]},
                        "tokens_per_month": {"type": ["integer", "null"]}},
                       ["tokens_per_day", "tokens_per_month"], description="The limits that apply; `null`: none."),
    "UserUpdated": obj({"user": ref("User"), "quota": ref("QuotaLimits")}, ["user", "quota"],
                       description="`{user, quota}`"),
    "Quota": obj({
        "tokens_per_day": {"type": ["integer", "null"]}, "tokens_per_month": {"type": ["integer", "null"]},
        "used_today": INT, "used_this_month": INT,
        "resets_at": d({"type": ["string", "null"], "format": "date-time"},
                       "Next UTC midnight with a daily limit, else the next month with a monthly one."),
    }, ["tokens_per_day", "tokens_per_month", "used_today", "used_this_month", "resets_at"]),
    "UsageReport": obj({
        "items": arr(obj({
            "day": STR, "model": STR, "key_id": d({"type": ["string", "null"]}, "`null`: calls made with "
                                                    "an access token."),
            "user_id": STR, "username": {"type": ["string", "null"]},
            "requests": INT, "prompt_tokens": INT, "completion_tokens": INT,
        }, ["requests", "prompt_tokens", "completion_tokens"])),
        "totals": obj({"requests": INT, "prompt_tokens": INT, "completion_tokens": INT},
                      ["requests", "prompt_tokens", "completion_tokens"]),
        "quota": {"anyOf": [ref("Quota"), {"type": "null"}]},
    }, ["items", "totals", "quota"], description="Each item has the field grouped by (`day`, `model`, "
                                                 "`key_id` or `user_id` with `username`)."),
    "CreateConversationRequest": obj({
        "title": TITLE, "model": MODEL_NAME, "system_prompt": SYSTEM_PROMPT, "options": OPTIONS, "tags": TAGS,
    }),
    "UpdateConversationRequest": obj({
        "title": TITLE, "model": MODEL_NAME, "system_prompt": SYSTEM_PROMPT, "options": OPTIONS,
        "pinned": BOOL, "archived": BOOL, "tags": {**TAGS, "type": ["array", "null"]},
    }, description="A field left out stays as it is; `null` clears `title`, `model`, `system_prompt`, "
                   "`options` and `tags`."),
    "SendMessageRequest": obj({
        "content": d({"type": "string", "minLength": 1},
                     "Not blank; no control characters but tabs and line breaks."),
        "model": d(STR, "Else the conversation's model, else the `default_model` variable."),
        "options": OPTIONS,
        "stream": d({"type": "boolean", "default": True}, "`true`: server-sent events; `false`: one JSON answer."),
    }, ["content"]),
    "RegenerateRequest": obj({
        "model": d(STR, "Else the conversation's model, else the `default_model` variable."),
        "options": OPTIONS,
        "stream": d({"type": "boolean", "default": True}, "`true`: server-sent events; `false`: one JSON answer."),
    }),
    "PullModelRequest": obj({"name": {"type": "string", "minLength": 1}}, ["name"]),
}

# ---------------------------------------------------------------------------------------------
# Headers and reusable responses

HEADERS = {
    "XRequestId": {
        "description": "The request's id: the request's `x-request-id` when it is at most 128 of "
                       "`[A-Za-z0-9._-]`, else generated. Equals the error body's `request_id`.",
        "schema": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9._-]+$"},
    },
    "RateLimitLimit": {"description": "Requests allowed in the current window.", "schema": INT},
    "RateLimitRemaining": {"description": "Requests left in the current window.", "schema": INT},
    "RateLimitReset": {"description": "Seconds until the window resets.", "schema": INT},
    "RetryAfter": {"description": "Seconds to wait before trying again.", "schema": INT},
    "WWWAuthenticate": {"description": "Always `Bearer`.", "schema": {"type": "string", "const": "Bearer"}},
    "ContentDisposition": {"description": "`attachment; filename=\"...\"`", "schema": STR},
    "SetCookie": {"description": "Cookie mode only: `access_token` and `refresh_token` (`HttpOnly; Secure; "
                                 "SameSite=Strict`) and the readable `csrf` cookie.", "schema": STR},
}


def hdr(name):
    return {"$ref": f"#/components/headers/{name}"}


RATE_HEADERS = {"ratelimit-limit": hdr("RateLimitLimit"), "ratelimit-remaining": hdr("RateLimitRemaining"),
                "ratelimit-reset": hdr("RateLimitReset")}

# name: (description, [codes], extra headers)
ERROR_RESPONSES = {
    "ValidationError": ("Malformed JSON (`INVALID_JSON`), or a field of the wrong type, missing, unknown or "
                        "out of range, or a tampered cursor (`VALIDATION_ERROR`, with `details.field`).",
                        ["VALIDATION_ERROR", "INVALID_JSON"], {}),
    "WeakPasswordOrValidationError": ("Malformed JSON (`INVALID_JSON`), a bad field (`VALIDATION_ERROR`, "
                                      "`details.field`), or a common or guessable password (`WEAK_PASSWORD`, "
                                      "reason in `details.reason`).",
                                      ["VALIDATION_ERROR", "INVALID_JSON", "WEAK_PASSWORD"], {}),
    "Unauthenticated": ("Missing, invalid or expired token (`UNAUTHENTICATED`).", ["UNAUTHENTICATED"],
                        {"WWW-Authenticate": hdr("WWWAuthenticate")}),
    "InvalidCredentials": ("Wrong password or unknown user, indistinguishably (`INVALID_CREDENTIALS`).",
                           ["INVALID_CREDENTIALS"], {}),
    "InvalidRefreshToken": ("Refresh token unknown, expired or already spent (`UNAUTHENTICATED`); "
                            "presenting a spent one revokes its whole session.", ["UNAUTHENTICATED"],
                            {"WWW-Authenticate": hdr("WWWAuthenticate")}),
    "Forbidden": ("Signed in, but the role does not allow this; or signed in by cookie without the CSRF "
                  "token (`FORBIDDEN`).", ["FORBIDDEN"], {}),
    "CsrfRequired": ("Signed in by cookie, but `x-csrf-token` is missing or does not match the `csrf` cookie "
                     "(`FORBIDDEN`). Bearer requests never get this.", ["FORBIDDEN"], {}),
    "WrongCurrentPassword": ("`current_password` is wrong (`FORBIDDEN`, `details.field`), or a cookie "
                             "request lacks its CSRF token.", ["FORBIDDEN"], {}),
    "SignupDisabled": ("Sign-up is closed (`SIGNUP_DISABLED`).", ["SIGNUP_DISABLED"], {}),
    "AccountNotActive": ("The account awaits approval (`ACCOUNT_PENDING`) or is disabled (`ACCOUNT_DISABLED`).",
                         ["ACCOUNT_PENDING", "ACCOUNT_DISABLED"], {}),
    "RefreshCsrf": ("A refresh by cookie without its CSRF token (`FORBIDDEN`).", ["FORBIDDEN"], {}),
    "NotFound": ("No such resource, or another user's (`NOT_FOUND`; existence is not leaked).", ["NOT_FOUND"], {}),
    "ModelNotFound": ("Ollama has no such model (`MODEL_NOT_FOUND`).", ["MODEL_NOT_FOUND"], {}),
    "ChatNotFound": ("No such conversation, or another user's (`NOT_FOUND`); or the model is unknown "
                     "(`MODEL_NOT_FOUND`).", ["NOT_FOUND", "MODEL_NOT_FOUND"], {}),
    "UsernameTaken": ("The username is taken, case-insensitively (`USERNAME_TAKEN`).", ["USERNAME_TAKEN"], {}),
    "LastAdmin": ("This would leave no active admin (`CONFLICT`).", ["CONFLICT"], {}),
    "PayloadTooLarge": ("The body is above the limit, 256 KiB by default (`PAYLOAD_TOO_LARGE`).",
                        ["PAYLOAD_TOO_LARGE"], {}),
    "UnsupportedMediaType": ("The body is not sent as `Content-Type: application/json` (`UNSUPPORTED_MEDIA_TYPE`).",
                             ["UNSUPPORTED_MEDIA_TYPE"], {}),
    "RateLimited": ("Too many requests (`RATE_LIMITED`): over the caller's rate limit, or (chat) over "
                    "`max_concurrent_generations`, or (login) too many attempts; or (chat) a token quota is "
                    "used up (`QUOTA_EXCEEDED`, `details: {limit, used, resets_at}`); try again after "
                    "`retry-after` seconds.",
                    ["RATE_LIMITED", "QUOTA_EXCEEDED"], {"retry-after": hdr("RetryAfter"), **RATE_HEADERS}),
    "UpstreamError": ("Ollama answered with an error (`UPSTREAM_ERROR`).", ["UPSTREAM_ERROR"], {}),
    "OllamaUnavailable": ("Ollama cannot be reached (`OLLAMA_UNAVAILABLE`).", ["OLLAMA_UNAVAILABLE"], {}),
    "UpstreamTimeout": ("Ollama sent no first byte within `ollama_timeout_seconds` (`UPSTREAM_TIMEOUT`).",
                        ["UPSTREAM_TIMEOUT"], {}),
    "Internal": ("Something failed on the server (`INTERNAL`).", ["INTERNAL"], {}),
}


def error_response(name):
    desc, codes, extra = ERROR_RESPONSES[name]
    examples = {c.lower(): {"value": {"error": {"code": c, "message": "..."}, "request_id": "01J..."}}
                for c in codes}
    return {
        "description": desc,
        "headers": {"x-request-id": hdr("XRequestId"), **extra},
        "content": {"application/json": {"schema": ref("Error"), "examples": examples}},
    }


def rref(name):
    return {"$ref": f"#/components/responses/{name}"}


# ---------------------------------------------------------------------------------------------
# Routes

CHAT_STREAM_DOC = (
    "`stream: true` (the default): `text/event-stream`, each event flushed as soon as it exists:\n\n"
    "- `event: start` — `data:` `{\"user_message\": Message, \"assistant_message_id\": string}` (ChatStartEvent)\n"
    "- `event: delta` — `data:` `{\"content\": string}`, one per Ollama chunk with content (ChatDeltaEvent)\n"
    "- `event: thinking` — `data:` `{\"content\": string}`, one per chunk of a thinking model's reasoning "
    "(ChatThinkingEvent)\n"
    "- `event: done` — `data:` `{\"message\": Message}`, the stored assistant message with `usage` (ChatDoneEvent)\n"
    "- or `event: error` — `data:` `{\"error\": {\"code\", \"message\"}}`; the partial answer is stored "
    "with status `incomplete` (StreamErrorEvent)\n\n"
    "Failures known before the first event get a status and the error envelope instead."
)
PULL_STREAM_DOC = (
    "`text/event-stream`:\n\n"
    "- `event: progress` — `data:` `{\"status\": string, \"completed\": integer|null, \"total\": integer|null, "
    "\"server\": string}` (PullProgressEvent), repeated, from each server in turn\n"
    "- then `event: done` — `data:` `{\"status\": \"success\"}` (PullDoneEvent)\n"
    "- or `event: error` — `data:` `{\"error\": {\"code\", \"message\", \"server\"}}` (PullErrorEvent), "
    "at the first failure"
)

SEND_DESCRIPTION = (
    "Stores the user message first, then asks Ollama. The model is `model` from the body, else the "
    "conversation's, else the `default_model` variable. If the client goes away mid-stream nothing "
    "generated is lost (finished and stored `complete` where the host lets the instance run on, else "
    "stored `incomplete`). The first exchange of an untitled conversation gives it a short title. "
    "Ollama down → `503 OLLAMA_UNAVAILABLE` (the user message is still stored); unknown model → "
    "`404 MODEL_NOT_FOUND`; Ollama error → `502 UPSTREAM_ERROR`; no first byte within "
    "`ollama_timeout_seconds` → `504 UPSTREAM_TIMEOUT`. Once events have started, failures come as "
    "`event: error`."
)

LIST_PARAMS = [
    {"name": "limit", "in": "query", "required": False, "description": "Page size.",
     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "`next_cursor` of the previous page; opaque. A tampered cursor is `400 VALIDATION_ERROR`.",
     "schema": STR},
]

OK_JSON = "json"  # marker

CHAT_EVENTS = [("start", "ChatStartEvent"), ("delta", "ChatDeltaEvent"), ("thinking", "ChatThinkingEvent"),
               ("done", "ChatDoneEvent"), ("error", "StreamErrorEvent")]
PULL_EVENTS = [("progress", "PullProgressEvent"), ("done", "PullDoneEvent"), ("error", "PullErrorEvent")]


def sse_event(events):
    """One server-sent event (the OpenAPI 3.1 way for text/event-stream: the schema describes each
    parsed event; its `data` is JSON, described by `contentSchema` for each event name)."""
    return {"oneOf": [{
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": ref(schema)},
            "id": STR,
            "retry": {"type": "integer", "minimum": 0},
        },
    } for name, schema in events]}


def USAGE_PARAMS(groups):
    return [
        {"name": "from", "in": "query", "required": False, "description": "First day (UTC), default 29 days "
         "before `to`.", "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "required": False, "description": "Last day (UTC), default today; at most "
         "366 days after `from`.", "schema": {"type": "string", "format": "date"}},
        {"name": "group_by", "in": "query", "required": False, "description": "How items are grouped.",
         "schema": {"type": "string", "enum": groups, "default": groups[0]}},
    ]


# Each route: dict with keys
#   m, p, op, tag, summary, [description], auth ("public"|"user"|"admin"|"metrics"),
#   [body (schema name), body_required], [query: list of params],
#   ok: {status: (kind, schema-or-None, description)}, errors: [response names in status order],
#   [rate]: rate-limited (ratelimit headers on success + 429)
ROUTES = [
    # ---------------- auth ----------------
    dict(m="post", p="/api/auth/register", op="registerUser", tag="auth", summary="Create an account",
         description="The first user ever becomes an active `admin`. Later users follow the `signup` variable: "
                     "`open` (active user, tokens), `approval` (`201 {user}` with status `pending`, no tokens), "
                     "`closed` (`403 SIGNUP_DISABLED`).",
         auth="public", body="RegisterRequest", cookie_mode=True,
         ok={"201": ("json", ref("RegisterResponse"), "Created. Tokens, or only `{user}` when approval is needed.")},
         errors={"400": "WeakPasswordOrValidationError", "403": "SignupDisabled", "409": "UsernameTaken"}),
    dict(m="post", p="/api/auth/login", op="loginUser", tag="auth", summary="Sign in with username and password",
         auth="public", body="LoginRequest", cookie_mode=True,
         ok={"200": ("json", ref("SessionResponse"), "Signed in.")},
         errors={"400": "ValidationError", "401": "InvalidCredentials", "403": "AccountNotActive"}),
    dict(m="post", p="/api/auth/refresh", op="refreshTokens", tag="auth",
         summary="Trade a refresh token for a new token pair",
         description="The presented refresh token is spent; presenting a spent one is `401` and revokes that "
                     "whole session. Cookie mode: send no body; the `refresh_token` cookie is used, `x-csrf-token` "
                     "must match the `csrf` cookie, and the new pair comes back as cookies.",
         auth="public", body="RefreshRequest", body_required=False, cookie_mode=True,
         ok={"200": ("json", ref("SessionResponse"), "A new token pair (or cookie session).")},
         errors={"400": "ValidationError", "401": "InvalidRefreshToken", "403": "RefreshCsrf"}),
    dict(m="post", p="/api/auth/logout", op="logoutUser", tag="auth", summary="Sign out",
         description="Revokes the current session (and the session of `refresh_token`, if given); its refresh "
                     "token no longer works. The body is optional. A cookie session's cookies are cleared "
                     "(`Set-Cookie` with `Max-Age=0`).",
         auth="user", body="LogoutRequest", body_required=False,
         ok={"204": (None, None, "Signed out.")}, errors={"400": "ValidationError"}),
    dict(m="get", p="/api/auth/me", op="getCurrentUser", tag="auth", summary="The signed-in user", auth="user",
         ok={"200": ("json", ref("UserEnvelope"), "`{user}`")}, errors={}),
    dict(m="patch", p="/api/auth/me", op="updateCurrentUser", tag="auth", summary="Update the signed-in user's profile",
         auth="user", body="UpdateMeRequest",
         ok={"200": ("json", ref("UserEnvelope"), "`{user}`, updated.")}, errors={"400": "ValidationError"}),
    dict(m="post", p="/api/auth/password", op="changePassword", tag="auth", summary="Change password",
         description="Every other session of the user is revoked.", auth="user", body="ChangePasswordRequest",
         ok={"204": (None, None, "Changed.")},
         errors={"400": "WeakPasswordOrValidationError", "403": "WrongCurrentPassword"}),
    dict(m="get", p="/api/auth/sessions", op="listSessions", tag="auth", summary="The signed-in user's sessions",
         auth="user", ok={"200": ("json", ref("SessionList"), "`{items: [session]}`")}, errors={}),
    dict(m="delete", p="/api/auth/sessions/{id}", op="revokeSession", tag="auth", summary="Revoke a session",
         auth="user", ok={"204": (None, None, "Revoked.")}, errors={"404": "NotFound"}),
    dict(m="post", p="/api/auth/keys", op="createApiKey", tag="auth", summary="Create an API key",
         description="The `key` is shown this once.", auth="user", body="CreateApiKeyRequest",
         ok={"201": ("json", ref("ApiKeyCreated"), "Created; `key` is shown only now.")},
         errors={"400": "ValidationError"}),
    dict(m="get", p="/api/auth/keys", op="listApiKeys", tag="auth", summary="The signed-in user's API keys",
         auth="user", ok={"200": ("json", ref("ApiKeyList"), "`{items: [api key]}`")}, errors={}),
    dict(m="delete", p="/api/auth/keys/{id}", op="revokeApiKey", tag="auth", summary="Revoke an API key",
         description="The key stops working at once.", auth="user",
         ok={"204": (None, None, "Revoked.")}, errors={"404": "NotFound"}),
    dict(m="post", p="/api/auth/keys/{id}/rotate", op="rotateApiKey", tag="auth", summary="Rotate an API key",
         description="Creates a new key with the same name and expiry; the old key keeps working for "
                     "`grace_seconds` (default 0). The body is optional.",
         auth="user", body="RotateApiKeyRequest", body_required=False,
         ok={"201": ("json", ref("ApiKeyCreated"), "The new key; `key` is shown only now.")},
         errors={"400": "ValidationError", "404": "NotFound"}),
    # ---------------- admin ----------------
    dict(m="get", p="/api/admin/users", op="listUsers", tag="admin", summary="List all users", auth="admin",
         query=LIST_PARAMS, ok={"200": ("json", ref("UserPage"), "`{items: [user], next_cursor}`")},
         errors={"400": "ValidationError"}),
    dict(m="patch", p="/api/admin/users/{id}", op="updateUser", tag="admin",
         summary="Change a user's role, status or token quota",
         description="Removing the last active admin is `409 CONFLICT`. A disabled user's tokens and keys stop "
                     "working at once; a new quota applies to the user's next question.", auth="admin",
         body="UpdateUserRequest",
         ok={"200": ("json", ref("UserUpdated"), "`{user, quota}`, updated; `quota` is what now applies.")},
         errors={"400": "ValidationError", "404": "NotFound", "409": "LastAdmin"}),
    dict(m="delete", p="/api/admin/users/{id}", op="deleteUser", tag="admin", summary="Delete a user with all their data",
         description="Deleting the last active admin is `409 CONFLICT`.", auth="admin",
         ok={"204": (None, None, "Deleted, with all of that user's data.")},
         errors={"404": "NotFound", "409": "LastAdmin"}),
    # ---------------- usage ----------------
    dict(m="get", p="/api/usage", op="getUsage", tag="usage", summary="The caller's usage and quota",
         description="Every answer counted (native chat, regenerate, titles, `/v1` chat and embeddings), by "
                     "UTC day, model or API key; read from per-day rows, never from messages.", auth="user",
         query=USAGE_PARAMS(["day", "model", "key"]),
         ok={"200": ("json", ref("UsageReport"), "`{items, totals, quota}`")}, errors={"400": "ValidationError"}),
    dict(m="get", p="/api/admin/usage", op="getAllUsage", tag="usage", summary="Everyone's usage",
         description="The same over every user; `quota` is `null`.", auth="admin",
         query=USAGE_PARAMS(["user", "day", "model"]),
         ok={"200": ("json", ref("UsageReport"), "`{items, totals, quota: null}`")},
         errors={"400": "ValidationError"}),
    # ---------------- conversations ----------------
    dict(m="post", p="/api/conversations", op="createConversation", tag="conversations",
         summary="Create a conversation", auth="user", body="CreateConversationRequest",
         ok={"201": ("json", ref("ConversationEnvelope"), "`{conversation}`")}, errors={"400": "ValidationError"}),
    dict(m="get", p="/api/conversations", op="listConversations", tag="conversations",
         summary="List or search conversations",
         description="Newest `updated_at` first. With `q`, a full-text search over titles and message contents; "
                     "each item then also has `snippet`. Every word of `q` must appear in one message or in the "
                     "title (case and accents ignored; FTS syntax characters are plain text); results are ranked "
                     "by relevance (BM25, title matches weigh double), the filters still apply.", auth="user",
         query=LIST_PARAMS + [
             {"name": "archived", "in": "query", "required": False,
              "description": "`true`: archived conversations; `false` (default): the others.",
              "schema": {"type": "boolean", "default": False}},
             {"name": "pinned", "in": "query", "required": False, "description": "`true`: only pinned ones.",
              "schema": {"type": "boolean"}},
             {"name": "tag", "in": "query", "required": False, "description": "Only those with this tag.",
              "schema": {"type": "string", "maxLength": 32}},
             {"name": "q", "in": "query", "required": False,
              "description": "Full-text search over titles and message contents.", "schema": STR},
         ],
         ok={"200": ("json", ref("ConversationPage"), "`{items: [conversation], next_cursor}`")},
         errors={"400": "ValidationError"}),
    dict(m="get", p="/api/conversations/export", op="exportAllConversations", tag="conversations",
         summary="Export every conversation with its messages", auth="user",
         ok={"200": ("json", ref("ExportDocument"), "Every conversation of the user with its messages.")}, errors={}),
    dict(m="post", p="/api/conversations/import", op="importConversations", tag="conversations",
         summary="Import conversations",
         description="Takes the JSON that export gives. Export → import → export is lossless apart from ids "
                     "and times. Everything is validated first and written in one transaction: a bad item imports "
                     "nothing, and the error's `details.field` names it (e.g. `conversations[2].messages[0].role`). "
                     "Ids are new; valid times are kept. The body limit here is the `import_limit_bytes` variable "
                     "(16 MiB by default), not `body_limit_bytes`.", auth="user", body="ImportDocument",
         ok={"201": ("json", ref("ImportResult"), "`{imported: N, ids: [...]}`")}, errors={"400": "ValidationError"}),
    dict(m="get", p="/api/conversations/{id}", op="getConversation", tag="conversations", summary="Get a conversation",
         auth="user", ok={"200": ("json", ref("ConversationEnvelope"), "`{conversation}`")},
         errors={"404": "NotFound"}),
    dict(m="patch", p="/api/conversations/{id}", op="updateConversation", tag="conversations",
         summary="Update a conversation", auth="user", body="UpdateConversationRequest",
         ok={"200": ("json", ref("ConversationEnvelope"), "`{conversation}`, updated.")},
         errors={"400": "ValidationError", "404": "NotFound"}),
    dict(m="delete", p="/api/conversations/{id}", op="deleteConversation", tag="conversations",
         summary="Delete a conversation", description="Its messages and share link go with it.", auth="user",
         ok={"204": (None, None, "Deleted.")}, errors={"404": "NotFound"}),
    dict(m="get", p="/api/conversations/{id}/messages", op="listMessages", tag="conversations",
         summary="List a conversation's messages", description="Oldest first.", auth="user", query=LIST_PARAMS,
         ok={"200": ("json", ref("MessagePage"), "`{items: [message], next_cursor}`")},
         errors={"400": "ValidationError", "404": "NotFound"}),
    dict(m="get", p="/api/conversations/{id}/export", op="exportConversation", tag="conversations",
         summary="Download one conversation", auth="user",
         query=[{"name": "format", "in": "query", "required": False, "description": "File format.",
                 "schema": {"type": "string", "enum": ["json", "markdown"], "default": "json"}}],
         ok={"200": ("export", None, "A download (`content-disposition: attachment`): JSON in the export format "
                                     "(one conversation), or Markdown.")},
         errors={"400": "ValidationError", "404": "NotFound"}),
    # ---------------- sharing ----------------
    dict(m="post", p="/api/conversations/{id}/share", op="shareConversation", tag="sharing",
         summary="Create a public read-only link",
         description="The token is shown only in this answer (the server keeps a hash of it). Sharing again "
                     "replaces the link: the old one stops working.", auth="user",
         ok={"201": ("json", ref("ShareLink"), "`{token, url}`")}, errors={"404": "NotFound"}),
    dict(m="delete", p="/api/conversations/{id}/share", op="unshareConversation", tag="sharing",
         summary="Revoke the public link", description="The link stops working.", auth="user",
         ok={"204": (None, None, "Revoked.")}, errors={"404": "NotFound"}),
    dict(m="get", p="/api/shared/{token}", op="getSharedConversation", tag="sharing",
         summary="Read a shared conversation (no sign-in)", auth="public",
         ok={"200": ("json", ref("SharedConversation"), "`{title, model, created_at, messages}`")},
         errors={"404": "NotFound"}),
    # ---------------- chat ----------------
    dict(m="post", p="/api/chat/{conversation_id}/messages", op="sendMessage", tag="chat",
         summary="Send a message and get the answer",
         description=SEND_DESCRIPTION + " One user may have at most `max_concurrent_generations` (variable, "
                     "default 3) answers running at once; more is `429 RATE_LIMITED` with `retry-after`, and the "
                     "refused message is not stored.", auth="user",
         body="SendMessageRequest",
         ok={"200": ("sse", CHAT_EVENTS, CHAT_STREAM_DOC),
             "201": ("json", ref("MessageExchange"), "`stream: false`: `{user_message, assistant_message}`.")},
         errors={"400": "ValidationError", "404": "ChatNotFound", "502": "UpstreamError",
                 "503": "OllamaUnavailable", "504": "UpstreamTimeout"}),
    dict(m="post", p="/api/chat/{conversation_id}/regenerate", op="regenerateAnswer", tag="chat",
         summary="Answer the last user message again",
         description="Replaces nothing: adds a new assistant answer to the last user message, with the same "
                     "shapes and failures as sending a message. A conversation without a user message is "
                     "`409 CONFLICT`. The body is optional.",
         auth="user", body="RegenerateRequest", body_required=False,
         ok={"200": ("sse", CHAT_EVENTS, CHAT_STREAM_DOC),
             "201": ("json", ref("MessageExchange"),
                     "`stream: false`: `{user_message, assistant_message}` (the last user message and the new answer).")},
         errors={"400": "ValidationError", "404": "ChatNotFound", "409": "Conflict", "502": "UpstreamError",
                 "503": "OllamaUnavailable", "504": "UpstreamTimeout"}),
    dict(m="post", p="/api/chat/{conversation_id}/stop", op="stopGeneration", tag="chat",
         summary="Stop the running generation",
         description="The generation running for the conversation ends at once (after the chunk Ollama is "
                     "sending), its Ollama request is closed, and the partial answer is stored with status "
                     "`incomplete`; its event stream ends with `event: done` carrying that message. Works across "
                     "instances and replicas (the flag is in the database). The `204` comes once the partial "
                     "answer is stored (at most 5 s). `404` if none is running.",
         auth="user", ok={"204": (None, None, "Stopped.")}, errors={"404": "NotFound"}),
    # ---------------- models ----------------
    dict(m="get", p="/api/models", op="listModels", tag="models", summary="List the models Ollama has", auth="user",
         ok={"200": ("json", ref("ModelList"), "`{items: [model]}`")},
         errors={"502": "UpstreamError", "503": "OllamaUnavailable", "504": "UpstreamTimeout"}),
    dict(m="get", p="/api/models/{name}", op="getModel", tag="models", summary="Get a model's details from Ollama",
         auth="user", ok={"200": ("json", ref("ModelDetails"), "The model's details from Ollama.")},
         errors={"400": "ValidationError", "404": "ModelNotFound", "502": "UpstreamError", "503": "OllamaUnavailable",
                 "504": "UpstreamTimeout"}),
    dict(m="delete", p="/api/models/{name}", op="deleteModel", tag="models", summary="Delete a model from Ollama",
         auth="admin", query=[{"name": "server", "in": "query", "required": False, "schema": STR,
                 "description": "Only this configured Ollama server (its URL); default: every server."}], ok={"204": (None, None, "Deleted.")},
         errors={"400": "ValidationError", "404": "ModelNotFound", "502": "UpstreamError", "503": "OllamaUnavailable",
                 "504": "UpstreamTimeout"}),
    dict(m="post", p="/api/models/pull", op="pullModel", tag="models", summary="Pull a model into Ollama, with progress",
         description="Failures known before the first event get a status and the error envelope; later ones come "
                     "as `event: error`.", auth="admin", body="PullModelRequest",
         query=[{"name": "server", "in": "query", "required": False, "schema": STR,
                 "description": "Only this configured Ollama server (its URL); default: every server."}],
         ok={"200": ("sse", PULL_EVENTS, PULL_STREAM_DOC)},
         errors={"400": "ValidationError", "404": "ModelNotFound", "502": "UpstreamError",
                 "503": "OllamaUnavailable", "504": "UpstreamTimeout"}),
    dict(m="get", p="/api/admin/ollama", op="getOllamaServers", tag="models", summary="The Ollama servers, probed now",
         auth="admin", ok={"200": ("json", ref("OllamaServerList"), "`{items: [server]}`")}, errors={}),
    # ---------------- health ----------------
    dict(m="get", p="/health", op="getHealth", tag="health", summary="Liveness", description="Touches nothing else.",
         auth="public", ok={"200": ("json", ref("Health"), "`{\"status\": \"ok\"}`")}, errors={}),
    dict(m="get", p="/health/ready", op="getReadiness", tag="health", summary="Readiness of SQLite, KV and Ollama",
         auth="public",
         ok={"200": ("json", ref("Readiness"), "Ready: status `ok`, or `degraded` when only Ollama is unreachable."),
             "503": ("json", ref("Readiness"), "Not ready: SQLite or the key-value store failed (status `down`).")},
         errors={}),
    dict(m="get", p="/metrics", op="getMetrics", tag="health", summary="Prometheus metrics",
         description="Needs an admin's token or API key, or the `metrics_token` variable as bearer token.",
         auth="metrics", ok={"200": ("text", None, "Prometheus text exposition format.")}, errors={}),
    dict(m="get", p="/info", op="getInfo", tag="health", summary="Name, version and components", auth="public",
         ok={"200": ("json", ref("Info"), "`{name, version, components}`")}, errors={}),
    dict(m="get", p="/openapi.json", op="getOpenApiDocument", tag="health", summary="This OpenAPI 3.1 document",
         auth="public",
         ok={"200": ("json", {"type": "object", "description": "An OpenAPI 3.1.0 document."}, "The API reference.")},
         errors={}),
]

# ---------------------------------------------------------------------------------------------
# /v1: OpenAI's shapes. Requests allow unknown fields (OpenAI's clients send new ones often);
# responses list what the app sends.

CHAT_MESSAGE_IN = obj({
    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
    "content": d({"type": ["string", "array", "null"], "items": obj({
        "type": {"type": "string", "enum": ["text", "image_url"]},
        "text": STR,
        "image_url": obj({"url": d(STR, "A `data:image/...;base64,` URL; `http(s)` URLs are refused.")},
                         ["url"], extra=True),
    }, ["type"], extra=True)}, "Text, or parts of type `text` and `image_url`."),
    "tool_calls": arr(ref("OpenAIToolCall")),
    "tool_call_id": STR,
    "name": STR,
}, ["role"], extra=True)
V1_USAGE = obj({"prompt_tokens": INT, "completion_tokens": INT, "total_tokens": INT},
               ["prompt_tokens", "completion_tokens", "total_tokens"], extra=True)
SCHEMAS.update({
    "OpenAIError": obj({
        "error": obj({
            "message": STR,
            "type": {"type": "string", "enum": ["invalid_request_error", "authentication_error",
                                                "permission_error", "not_found_error", "rate_limit_error",
                                                "api_error"]},
            "param": d({"type": ["string", "null"]}, "The offending field, e.g. `messages[0].role`."),
            "code": {"type": ["string", "null"]},
        }, ["message", "type", "param", "code"]),
    }, ["error"], description="OpenAI's error shape, used on every `/v1` route."),
    "OpenAIModel": obj({"id": STR, "object": {"type": "string", "const": "model"},
                        "created": d(INT, "Unix seconds: when Ollama's copy was last modified."),
                        "owned_by": STR}, ["id", "object", "created", "owned_by"], extra=True),
    "OpenAIModelList": obj({"object": {"type": "string", "const": "list"}, "data": arr(ref("OpenAIModel"))},
                           ["object", "data"], extra=True),
    "OpenAIToolCall": obj({
        "id": STR, "type": {"type": "string", "const": "function"}, "index": INT,
        "function": obj({"name": STR, "arguments": d(STR, "JSON text.")}, ["name"], extra=True),
    }, ["function"], extra=True),
    "ChatCompletionRequest": obj({
        "model": STR,
        "messages": arr(CHAT_MESSAGE_IN, minItems=1),
        "stream": {"type": ["boolean", "null"]},
        "stream_options": {"type": ["object", "null"], "properties": {"include_usage": BOOL}},
        "n": d({"type": ["integer", "null"], "const": 1}, "Only 1."),
        "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
        "top_p": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "max_tokens": {"type": ["integer", "null"], "minimum": 0},
        "max_completion_tokens": {"type": ["integer", "null"], "minimum": 0},
        "stop": {"type": ["string", "array", "null"], "items": STR, "maxItems": 4},
        "seed": {"type": ["integer", "null"]},
        "presence_penalty": {"type": ["number", "null"], "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": ["number", "null"], "minimum": -2, "maximum": 2},
        "response_format": {"type": ["object", "null"], "properties": {
            "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]},
            "json_schema": {"type": "object", "properties": {"name": STR, "schema": {"type": "object"}}}}},
        "tools": {"type": ["array", "null"], "items": obj({
            "type": {"type": "string", "const": "function"},
            "function": obj({"name": STR, "description": STR, "parameters": {"type": "object"}}, ["name"],
                            extra=True)}, ["type", "function"], extra=True)},
        "tool_choice": {"type": ["string", "object", "null"]},
        "user": {"type": ["string", "null"]},
    }, ["model", "messages"], extra=True, description="OpenAI's chat request; unknown fields are ignored."),
    "ChatCompletion": obj({
        "id": STR, "object": {"type": "string", "const": "chat.completion"}, "created": INT, "model": STR,
        "system_fingerprint": {"type": "null"},
        "choices": arr(obj({
            "index": INT,
            "message": obj({"role": {"type": "string", "const": "assistant"},
                            "content": {"type": ["string", "null"]},
                            "reasoning_content": STR,
                            "tool_calls": arr(ref("OpenAIToolCall"))}, ["role", "content"], extra=True),
            "logprobs": {"type": "null"},
            "finish_reason": {"type": "string", "enum": ["stop", "length", "tool_calls"]},
        }, ["index", "message", "finish_reason"], extra=True)),
        "usage": V1_USAGE,
    }, ["id", "object", "created", "model", "choices", "usage"], extra=True),
    "EmbeddingsRequest": obj({
        "model": STR,
        "input": {"type": ["string", "array"], "items": STR, "minItems": 1,
                  "description": "Text or a list of texts (token arrays are refused)."},
        "encoding_format": {"type": ["string", "null"], "enum": ["float", "base64", None]},
        "dimensions": {"type": ["integer", "null"], "minimum": 1},
        "user": {"type": ["string", "null"]},
    }, ["model", "input"], extra=True),
    "EmbeddingList": obj({
        "object": {"type": "string", "const": "list"},
        "data": arr(obj({"object": {"type": "string", "const": "embedding"}, "index": INT,
                         "embedding": d({"type": ["array", "string"], "items": NUM},
                                        "Floats, or base64 of little-endian `f32`s.")},
                        ["object", "index", "embedding"], extra=True)),
        "model": STR,
        "usage": obj({"prompt_tokens": INT, "total_tokens": INT}, ["prompt_tokens", "total_tokens"], extra=True),
    }, ["object", "data", "model", "usage"], extra=True),
})

V1_ERRORS = {
    "V1BadRequest": "A field OpenAI's API or this app cannot take (`invalid_request_error`, `param` names it), "
                    "or malformed JSON.",
    "V1Unauthenticated": "No valid API key or access token (`authentication_error`, code `invalid_api_key`).",
    "V1Forbidden": "A cookie session without its CSRF token (`permission_error`).",
    "V1NotFound": "No such model (`not_found_error`, code `model_not_found`).",
    "V1PayloadTooLarge": "The body is above the limit (`invalid_request_error`).",
    "V1UnsupportedMediaType": "The body is not `application/json` (`invalid_request_error`).",
    "V1RateLimited": "Over the chat rate limit or the running-answers limit (`rate_limit_error`, code "
                     "`rate_limit_exceeded`), or a token quota is used up (code `insufficient_quota`); try "
                     "again after `retry-after` seconds.",
    "V1UpstreamError": "Ollama failed (`api_error`, code `upstream_error`).",
    "V1Unavailable": "Ollama cannot be reached (`api_error`, code `ollama_unavailable`).",
    "V1Timeout": "Ollama sent no first byte in time (`api_error`, code `upstream_timeout`).",
    "V1Internal": "Something failed on the server (`api_error`).",
}
# What a route's default errors are called on /v1.
V1_DEFAULTS = {"ValidationError": "V1BadRequest", "PayloadTooLarge": "V1PayloadTooLarge",
               "UnsupportedMediaType": "V1UnsupportedMediaType", "Unauthenticated": "V1Unauthenticated",
               "CsrfRequired": "V1Forbidden", "RateLimited": "V1RateLimited", "Internal": "V1Internal"}
V1_UPSTREAM = {"502": "V1UpstreamError", "503": "V1Unavailable", "504": "V1Timeout"}


def v1_error_response(name):
    extra = {"retry-after": hdr("RetryAfter"), **RATE_HEADERS} if name == "V1RateLimited" else {}
    if name == "V1Unauthenticated":
        extra = {"WWW-Authenticate": hdr("WWWAuthenticate")}
    return {"description": V1_ERRORS[name], "headers": {"x-request-id": hdr("XRequestId"), **extra},
            "content": {"application/json": {"schema": ref("OpenAIError")}}}


V1_STREAM_DOC = (
    "`stream: true`: `text/event-stream` of unnamed events, each `data:` a `chat.completion.chunk` "
    "(`{id, object, created, model, choices: [{index, delta: {role?, content?, reasoning_content?, "
    "tool_calls?}, finish_reason}]}`): first the role, then one per Ollama chunk, then the "
    "`finish_reason`; with `stream_options.include_usage` a last chunk with `choices: []` and `usage`; "
    "then `data: [DONE]`. A failure after the start is one `data:` event in OpenAI's error shape."
)
ROUTES += [
    dict(m="get", p="/v1/models", op="v1ListModels", tag="openai", summary="List models (OpenAI)", auth="user",
         v1=True, ok={"200": ("json", ref("OpenAIModelList"), "Ollama's installed models.")},
         errors=V1_UPSTREAM),
    dict(m="get", p="/v1/models/{model}", op="v1GetModel", tag="openai", summary="Get a model (OpenAI)",
         auth="user", v1=True, ok={"200": ("json", ref("OpenAIModel"), "One model.")},
         errors={"404": "V1NotFound", **V1_UPSTREAM}),
    dict(m="post", p="/v1/chat/completions", op="v1CreateChatCompletion", tag="openai",
         summary="Create a chat completion (OpenAI)",
         description="Stateless: nothing is stored but usage. Counts against the chat rate limit and the "
                     "running-answers limit. A client that disconnects ends the Ollama request.",
         auth="user", v1=True, body="ChatCompletionRequest",
         ok={"200": ("json+sse", ref("ChatCompletion"), "A `chat.completion`, or with `stream: true` the "
                     "chunks. " + V1_STREAM_DOC)},
         errors={"404": "V1NotFound", **V1_UPSTREAM}),
    dict(m="post", p="/v1/embeddings", op="v1CreateEmbeddings", tag="openai", summary="Create embeddings (OpenAI)",
         auth="user", v1=True, body="EmbeddingsRequest",
         ok={"200": ("json", ref("EmbeddingList"), "One embedding per input, in order.")},
         errors={"404": "V1NotFound", **V1_UPSTREAM}),
]

ERROR_RESPONSES["Conflict"] = ("Conflicts with the current state (`CONFLICT`).", ["CONFLICT"], {})

PATH_PARAM_DOC = {
    "id": "The resource's id.",
    "conversation_id": "The conversation's id.",
    "token": "The share token from `POST /api/conversations/{id}/share`.",
    "name": "The model's name, e.g. `llama3.2:3b` (percent-encode `/`).",
    "model": "The model's name, e.g. `llama3.2:3b`.",
}


def success_response(kind, schema, desc, rate):
    headers = {"x-request-id": hdr("XRequestId")}
    if rate:
        headers.update(RATE_HEADERS)
    r = {"description": desc, "headers": headers}
    if kind == "json":
        r["content"] = {"application/json": {"schema": schema}}
    elif kind == "sse":
        r["content"] = {"text/event-stream": {"schema": sse_event(schema)}}
    elif kind == "json+sse":
        r["content"] = {"application/json": {"schema": schema},
                        "text/event-stream": {"schema": {"type": "string"}}}
    elif kind == "text":
        r["content"] = {"text/plain": {"schema": {"type": "string"}}}
    elif kind == "export":
        headers["content-disposition"] = hdr("ContentDisposition")
        r["content"] = {"application/json": {"schema": ref("ExportDocument")},
                        "text/markdown": {"schema": {"type": "string"}}}
    return r


def build():
    paths = {}
    op_ids = set()
    for rt in ROUTES:
        assert rt["op"] not in op_ids, rt["op"]
        op_ids.add(rt["op"])
        op = {"operationId": rt["op"], "summary": rt["summary"], "tags": [rt["tag"]]}
        desc = rt.get("description", "")
        if rt["auth"] == "admin":
            desc = ("Admins only (`403 FORBIDDEN` for other users). " + desc).strip()
        if desc:
            op["description"] = desc
        if rt["auth"] == "public":
            op["security"] = []
        params = [{"name": seg[1:-1], "in": "path", "required": True,
                   "description": PATH_PARAM_DOC[seg[1:-1]], "schema": {"type": "string"}}
                  for seg in rt["p"].split("/") if seg.startswith("{")]
        params += rt.get("query", [])
        unsafe = rt["m"] not in ("get", "head", "options")
        if rt.get("cookie_mode"):
            params.append({"name": "x-auth-mode", "in": "header", "required": False,
                           "description": "`cookie`: get the tokens as HttpOnly cookies instead of in the body.",
                           "schema": {"type": "string", "enum": ["cookie", "bearer"]}})
        if unsafe and (rt["auth"] != "public" or rt.get("cookie_mode")) and rt["p"] != "/api/auth/login" \
                and rt["p"] != "/api/auth/register":
            params.append({"name": "x-csrf-token", "in": "header", "required": False,
                           "description": "Cookie sessions only: the `csrf` cookie's value (else `403`).",
                           "schema": STR})
        if params:
            op["parameters"] = params
        has_body = "body" in rt
        if has_body:
            op["requestBody"] = {"required": rt.get("body_required", True),
                                 "content": {"application/json": {"schema": ref(rt["body"])}}}
        # Every route but the probes counts against a rate limit.
        rate = rt["p"] not in ("/health", "/health/ready")
        resp = {}
        for status, (kind, schema, d_) in rt["ok"].items():
            resp[status] = success_response(kind, schema, d_, rate)
            if rt.get("cookie_mode") and kind == "json":
                resp[status]["headers"]["set-cookie"] = hdr("SetCookie")
        errors = dict(rt["errors"])
        if has_body:
            errors.setdefault("400", "ValidationError")
            errors.setdefault("413", "PayloadTooLarge")
            errors.setdefault("415", "UnsupportedMediaType")
        if rt["auth"] != "public":
            errors.setdefault("401", "Unauthenticated")
        if rt["auth"] in ("admin", "metrics"):
            errors.setdefault("403", "Forbidden")
        if rt["auth"] in ("user", "admin") and unsafe:
            errors.setdefault("403", "CsrfRequired")
        if rate:
            errors.setdefault("429", "RateLimited")
        errors.setdefault("500", "Internal")
        if rt.get("v1"):
            errors = {status: V1_DEFAULTS.get(name, name) for status, name in errors.items()}
        for status, name in errors.items():
            assert status not in resp, (rt["op"], status)
            resp[status] = rref(name)
        op["responses"] = dict(sorted(resp.items()))
        paths.setdefault(rt["p"], {})[rt["m"]] = op

    used = {n for rt in ROUTES for n in rt["errors"].values()} | {
        "ValidationError", "PayloadTooLarge", "UnsupportedMediaType", "Unauthenticated", "Forbidden",
        "RateLimited", "Internal", "CsrfRequired"}
    responses = {name: error_response(name) for name in ERROR_RESPONSES if name in used}
    responses.update({name: v1_error_response(name) for name in V1_ERRORS})

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ollama Chat API",
            "version": "1.1.0",
            "description": (
                "A multi-user chat backend for Ollama: accounts and API keys, conversations with search, "
                "export/import and sharing, streamed chat, and OpenAI's chat-completions API under `/v1` "
                "(whose errors use OpenAI's shape instead of the envelope).\n\n"
                "Conventions: JSON in and out (bodies need `Content-Type: application/json`, at most 256 KiB "
                "by default). Errors always use the envelope "
                "`{\"error\": {\"code\", \"message\", \"details\"?}, \"request_id\"}`. Another user's resource "
                "is `404`, never `403`. Unknown routes are `404 NOT_FOUND`; a known route with a wrong method "
                "is `405 METHOD_NOT_ALLOWED` with `allow`. CORS preflight (`OPTIONS`) is answered `204` on every "
                "route for an allowed origin. Every response carries `x-request-id`. Lists take `?limit=` "
                "(1..100, default 20) and `?cursor=` and answer `{items, next_cursor}`.\n\n"
                "Rate limits: every route but `/health` and `/health/ready` counts against a budget per window "
                "(register/login/refresh per client IP; send/regenerate per user or API key; the rest per user, "
                "key or IP). Responses carry `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset`; over "
                "the limit is `429 RATE_LIMITED` with `retry-after`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "tags": [
            {"name": "auth", "description": "Accounts, sessions, tokens and API keys."},
            {"name": "admin", "description": "User administration (admins only)."},
            {"name": "conversations", "description": "Conversations, their messages, export and import."},
            {"name": "sharing", "description": "Public read-only links to conversations."},
            {"name": "chat", "description": "Sending messages and streaming answers."},
            {"name": "models", "description": "The models Ollama has."},
            {"name": "usage", "description": "Tokens used, per day, model, API key or user; quotas."},
            {"name": "health", "description": "Liveness, readiness, metrics, info and this document."},
            {"name": "openai", "description": "OpenAI's chat-completions API (`/v1`), for OpenAI's SDKs and "
                                              "tools; errors in OpenAI's shape."},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "An access token from login/register/refresh, or an API key. `/metrics` also "
                               "takes the `metrics_token` variable."},
                "cookieAuth": {
                    "type": "apiKey", "in": "cookie", "name": "access_token",
                    "description": "Browser cookie mode (`x-auth-mode: cookie` on login, register or refresh). "
                                   "Requests other than GET, HEAD and OPTIONS must also send the `csrf` cookie's "
                                   "value in `x-csrf-token`, else `403 FORBIDDEN`."}},
            "headers": HEADERS,
            "responses": responses,
            "schemas": SCHEMAS,
        },
    }


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                       str(pathlib.Path(__file__).resolve().parent.parent / "components" / "health" / "openapi.json"))
    doc = build()
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    n = sum(len(v) for v in doc["paths"].values())
    print(f"{len(doc['paths'])} paths, {n} operations -> {out}")
