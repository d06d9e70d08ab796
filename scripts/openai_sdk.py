"""The official `openai` Python SDK against the app's /v1 (run by scripts/openai_sdk.sh).

Each check is what a user of the SDK does; the app must answer so that the SDK gives back its
own types, and each failure as the SDK's exception class. Environment: OPENAI_BASE_URL (the
app's /v1), OPENAI_API_KEY (an API key of a registered user), RATE_LIMIT_CHAT (the app's
`rate_limit_chat`, small so that the limit is reached).
"""

import base64
import json
import os
import struct
import sys
import traceback

import openai
from openai import OpenAI

MODEL = "llama3.2:1b"
BASE = os.environ["OPENAI_BASE_URL"]
KEY = os.environ["OPENAI_API_KEY"]
# No retries: a 429 or 5xx must surface as the SDK's exception, not be retried away.
client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=30)
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}]


def check_models():
    ids = [m.id for m in client.models.list()]
    assert ids == ["llama3.2:1b", "qwen3:0.6b"], ids
    m = client.models.retrieve("qwen3:0.6b")
    assert (m.id, m.object, m.owned_by) == ("qwen3:0.6b", "model", "library"), m


def check_whole_completion():
    c = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        temperature=0.3, max_tokens=100, seed=1,
    )
    assert c.object == "chat.completion" and c.id.startswith("chatcmpl-"), c
    choice = c.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.startswith("tok0 "), choice
    assert choice.finish_reason == "stop", choice
    assert c.usage.completion_tokens == 50 and c.usage.total_tokens > 50, c.usage


def check_streamed_completion_with_usage():
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(f"tok{i} " for i in range(50)), text
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"], finish
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 50, chunks[-1]
    assert all(c.usage is None for c in chunks[:-1])


def check_tool_call_round_trip():
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather", call
    assert json.loads(call.function.arguments) == {"city": "Paris"}, call
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"})
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop", second
    assert second.choices[0].message.content, second


def check_streamed_tool_call():
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS, stream=True,
    )
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].index == 0 and calls[0].function.name == "get_weather", calls


def check_image_part():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n a tiny test image").decode()
    c = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]}])
    assert c.choices[0].message.content, c


def check_json_mode():
    c = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Answer in JSON"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(c.choices[0].message.content), dict), c
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    c = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Answer"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert "answer" in json.loads(c.choices[0].message.content), c


def check_embeddings():
    floats = client.embeddings.create(model=MODEL, input=["one", "two"], encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 8, floats
    # The SDK asks for base64 by default and decodes it itself.
    default = client.embeddings.create(model=MODEL, input=["one", "two"])
    assert default.data[0].embedding == floats.data[0].embedding, (default, floats)
    raw = client.embeddings.create(model=MODEL, input="one", encoding_format="base64")
    vector = raw.data[0].embedding
    if isinstance(vector, str):
        vector = list(struct.unpack(f"<{len(base64.b64decode(vector)) // 4}f", base64.b64decode(vector)))
    assert vector == floats.data[0].embedding, vector
    assert floats.usage.prompt_tokens > 0, floats.usage


def expect(exc, call):
    try:
        call()
    except exc as e:
        assert isinstance(e.body, dict) and e.body.get("message"), e.body
        return e
    raise AssertionError(f"no {exc.__name__}")


def check_errors():
    bad = OpenAI(base_url=BASE, api_key="ock_not_a_real_key", max_retries=0)
    e = expect(openai.AuthenticationError, lambda: bad.models.list())
    assert e.code == "invalid_api_key", e
    e = expect(openai.NotFoundError, lambda: client.models.retrieve("nope:1b"))
    e = expect(openai.NotFoundError, lambda: client.chat.completions.create(
        model="nope:1b", messages=[{"role": "user", "content": "x"}]))
    assert e.code == "model_not_found", e
    e = expect(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], n=2))
    assert e.param == "n", e
    e = expect(openai.BadRequestError, lambda: client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]))
    assert e.param == "messages[0].content[0].image_url.url", e


def check_rate_limit():
    """Last: spends the chat rate limit of the window."""
    limit = int(os.environ["RATE_LIMIT_CHAT"])
    for i in range(limit + 1):
        try:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
        except openai.RateLimitError as e:
            assert e.code == "rate_limit_exceeded", e
            assert e.response.headers.get("retry-after"), e.response.headers
            return
    raise AssertionError(f"no RateLimitError in {limit + 1} calls")


def main():
    checks = [(name, f) for name, f in globals().items() if name.startswith("check_")]
    failed = 0
    for name, f in checks:
        try:
            f()
            print(f"ok   {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"openai sdk {openai.__version__}: {len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
