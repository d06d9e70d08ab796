//! The request checks and the translation to Ollama's body.

use super::*;
use base64::Engine;

fn parse(v: Value) -> Result<Translated, Error> {
    chat_core::json::parse_json::<ChatRequest>(v.to_string().as_bytes())?.translate()
}

fn field(e: &Error) -> String {
    e.details()
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_plain_request_becomes_ollamas_body() {
    let t = parse(json!({
        "model": "llama3.2", "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]}
        ],
        "temperature": 0.5, "max_tokens": 10, "max_completion_tokens": 20, "stop": "END",
        "seed": 7, "frequency_penalty": 1, "presence_penalty": -1, "top_p": 0.9,
        "user": "end-user-1", "logit_bias": {}, "some_new_field": true
    }))
    .expect("valid");
    assert!(!t.stream && !t.include_usage);
    assert_eq!(t.body["model"], "llama3.2");
    assert_eq!(t.body["stream"], true);
    assert_eq!(
        t.body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        t.body["messages"][1],
        json!({"role": "user", "content": "Hi\nthere"})
    );
    let o = &t.body["options"];
    assert_eq!(o["temperature"], 0.5);
    assert_eq!(o["num_predict"], 20);
    assert_eq!(o["stop"], json!(["END"]));
    assert_eq!(o["seed"], 7);
    assert_eq!(o["frequency_penalty"], 1.0);
    assert_eq!(o["presence_penalty"], -1.0);
    assert_eq!(o["top_p"], 0.9);
    assert!(t.body.get("format").is_none() && t.body.get("tools").is_none());
}

#[test]
fn images_json_mode_and_streaming_options() {
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG fake");
    let t = parse(json!({
        "model": "m", "stream": true, "stream_options": {"include_usage": true},
        "response_format": {"type": "json_object"},
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}"), "detail": "low"}}
        ]}]
    }))
    .expect("valid");
    assert!(t.stream && t.include_usage);
    assert_eq!(t.body["format"], "json");
    assert_eq!(t.body["messages"][0]["images"], json!([png]));
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let t = parse(json!({
        "model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    }))
    .expect("valid");
    assert_eq!(t.body["format"], schema);
}

#[test]
fn a_tool_call_round_trip_names_the_function() {
    let t = parse(json!({
        "model": "m",
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
        ]
    }))
    .expect("valid");
    assert_eq!(t.body["tools"][0]["function"]["name"], "weather");
    assert_eq!(
        t.body["messages"][1]["tool_calls"][0]["function"]["arguments"],
        json!({"city": "Paris"})
    );
    assert_eq!(
        t.body["messages"][2],
        json!({"role": "tool", "content": "18 C", "tool_name": "weather"})
    );
    let none = parse(json!({
        "model": "m", "tool_choice": "none", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f"}}]
    }))
    .expect("valid");
    assert!(none.body.get("tools").is_none());
}

#[test]
fn what_cannot_be_honoured_is_a_400_naming_the_field() {
    let user = json!([{"role": "user", "content": "x"}]);
    let table = [
        (json!({"model": "m", "messages": user, "n": 2}), "n"),
        (json!({"model": "m", "messages": []}), "messages"),
        (json!({"model": "", "messages": user}), "model"),
        (json!({"messages": user}), "model"),
        (
            json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": user, "temperature": 3}),
            "temperature",
        ),
        (
            json!({"model": "m", "messages": user, "top_p": "high"}),
            "top_p",
        ),
        (
            json!({"model": "m", "messages": user, "stop": ["a", "b", "c", "d", "e"]}),
            "stop",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,***"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"model": "m", "messages": user, "tools": [{"type": "retrieval"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "messages": user, "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"model": "m", "messages": user, "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}),
            "tool_choice",
        ),
        (
            json!({"model": "m", "messages": user, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
            "response_format.json_schema.schema",
        ),
    ];
    for (body, expected) in table {
        let e = parse(body.clone()).expect_err(&body.to_string());
        assert_eq!(e.status().as_u16(), 400, "{body}");
        assert_eq!(field(&e), expected, "{body}: {}", e.message());
    }
}
