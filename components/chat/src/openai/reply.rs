//! An answer from Ollama's `/api/chat` stream in OpenAI's shapes: one
//! `chat.completion.chunk` per Ollama chunk as it comes, or one `chat.completion` at the end,
//! and the usage it cost.

pub use chat_core::usage::Tokens;
use ollama_api::wire::ChatChunk;
use serde_json::{Value, json};

/// What one answer has given so far.
#[derive(Debug)]
pub struct Reply {
    id: String,
    created: i64,
    model: String,
    include_usage: bool,
    content: String,
    reasoning: String,
    /// In OpenAI's shape, ids given here.
    tool_calls: Vec<Value>,
    done_reason: Option<String>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    content_chunks: u64,
}

impl Reply {
    /// An answer by `model` at `created` (Unix seconds); `include_usage`: a streamed answer
    /// ends with a usage chunk, and every chunk before it says `"usage": null`.
    pub fn new(model: &str, created: i64, include_usage: bool) -> Self {
        Self {
            id: super::id("chatcmpl-"),
            created,
            model: model.to_string(),
            include_usage,
            content: String::new(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            done_reason: None,
            prompt_tokens: None,
            completion_tokens: None,
            content_chunks: 0,
        }
    }

    fn chunk(&self, choices: Value) -> Value {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": choices,
        });
        if self.include_usage {
            c["usage"] = Value::Null;
        }
        c
    }

    /// Whether a streamed answer ends with a usage chunk.
    pub fn include_usage(&self) -> bool {
        self.include_usage
    }

    /// The stream's first chunk: the role.
    pub fn opening(&self) -> Value {
        self.chunk(json!([{
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": null,
            "finish_reason": null,
        }]))
    }

    /// Takes one Ollama chunk; the stream chunk it makes, if it carries anything.
    pub fn take(&mut self, c: &ChatChunk) -> Option<Value> {
        if c.done {
            self.done_reason = c.done_reason.clone();
            self.prompt_tokens = c.prompt_eval_count;
            self.completion_tokens = c.eval_count;
        }
        let mut delta = serde_json::Map::new();
        if !c.thinking().is_empty() {
            self.reasoning.push_str(c.thinking());
            delta.insert("reasoning_content".into(), json!(c.thinking()));
        }
        if !c.content().is_empty() {
            self.content_chunks += 1;
            self.content.push_str(c.content());
            delta.insert("content".into(), json!(c.content()));
        }
        if !c.tool_calls().is_empty() {
            let mut calls = Vec::new();
            for call in c.tool_calls() {
                let call = json!({
                    "index": self.tool_calls.len(),
                    "id": super::id("call_"),
                    "type": "function",
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": arguments(&call["function"]["arguments"]),
                    },
                });
                calls.push(call.clone());
                self.tool_calls.push(call);
            }
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        (!delta.is_empty()).then(|| {
            self.chunk(json!([{
                "index": 0, "delta": delta, "logprobs": null, "finish_reason": null,
            }]))
        })
    }

    /// `tool_calls`, `length` (cut at `max_tokens`) or `stop`.
    pub fn finish_reason(&self) -> &'static str {
        if !self.tool_calls.is_empty() {
            "tool_calls"
        } else if self.done_reason.as_deref() == Some("length") {
            "length"
        } else {
            "stop"
        }
    }

    /// The chunk that ends the choice.
    pub fn closing(&self) -> Value {
        self.chunk(json!([{
            "index": 0, "delta": {}, "logprobs": null, "finish_reason": self.finish_reason(),
        }]))
    }

    /// The last chunk with `stream_options.include_usage`: no choices, the usage.
    pub fn usage_chunk(&self) -> Value {
        let mut c = self.chunk(json!([]));
        c["usage"] = self.usage_json();
        c
    }

    /// Ollama's counts; an answer cut short counts one completion token per content chunk.
    pub fn tokens(&self) -> Tokens {
        Tokens {
            prompt: self.prompt_tokens.unwrap_or(0),
            completion: self.completion_tokens.unwrap_or(self.content_chunks),
        }
    }

    fn usage_json(&self) -> Value {
        let t = self.tokens();
        json!({
            "prompt_tokens": t.prompt,
            "completion_tokens": t.completion,
            "total_tokens": t.prompt + t.completion,
        })
    }

    /// The whole answer as one `chat.completion`.
    pub fn completion(&self) -> Value {
        let mut message = json!({"role": "assistant", "content": self.content});
        if !self.reasoning.is_empty() {
            message["reasoning_content"] = json!(self.reasoning);
        }
        if !self.tool_calls.is_empty() {
            let calls: Vec<Value> = self
                .tool_calls
                .iter()
                .map(|c| json!({"id": c["id"], "type": "function", "function": c["function"]}))
                .collect();
            message["tool_calls"] = Value::Array(calls);
            if self.content.is_empty() {
                message["content"] = Value::Null;
            }
        }
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{
                "index": 0, "message": message, "logprobs": null,
                "finish_reason": self.finish_reason(),
            }],
            "usage": self.usage_json(),
        })
    }
}

/// Ollama gives arguments as an object; OpenAI as JSON text.
fn arguments(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ollama_api::wire::{ChatLine, parse_chat_line};

    fn chunk(v: Value) -> ChatChunk {
        match parse_chat_line(v.to_string().as_bytes()) {
            Ok(ChatLine::Chunk(c)) => c,
            other => panic!("not a chunk: {other:?}"),
        }
    }

    #[test]
    fn a_streamed_answer_is_openais_chunks_then_usage() {
        let mut r = Reply::new("llama3.2", 1_700_000_000, true);
        let first = r.opening();
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(first["usage"], Value::Null);
        let think = r.take(&chunk(json!({"message": {"role": "assistant", "content": "", "thinking": "hm"}, "done": false})));
        assert_eq!(
            think.expect("a chunk")["choices"][0]["delta"]["reasoning_content"],
            "hm"
        );
        let c = r
            .take(&chunk(
                json!({"message": {"role": "assistant", "content": "Hi"}, "done": false}),
            ))
            .expect("a chunk");
        assert_eq!(c["choices"][0]["delta"], json!({"content": "Hi"}));
        assert_eq!(c["id"], first["id"]);
        let last = r.take(&chunk(json!({"message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "length", "prompt_eval_count": 12, "eval_count": 5})));
        assert!(last.is_none());
        assert_eq!(r.closing()["choices"][0]["finish_reason"], "length");
        let usage = r.usage_chunk();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(
            usage["usage"],
            json!({"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17})
        );
        let whole = r.completion();
        assert_eq!(whole["object"], "chat.completion");
        assert_eq!(whole["choices"][0]["message"]["content"], "Hi");
        assert_eq!(whole["choices"][0]["message"]["reasoning_content"], "hm");
    }

    #[test]
    fn tool_calls_get_ids_and_text_arguments() {
        let mut r = Reply::new("m", 1, false);
        let c = r
            .take(&chunk(json!({"message": {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Paris"}}}]}, "done": false})))
            .expect("a chunk");
        assert!(c.get("usage").is_none());
        let call = &c["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(call["index"], 0);
        assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert!(
            call["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("call_"))
        );
        r.take(&chunk(json!({"done": true, "done_reason": "stop"})));
        let whole = r.completion();
        let choice = &whole["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], Value::Null);
        assert_eq!(choice["message"]["tool_calls"][0]["id"], call["id"]);
        assert!(choice["message"]["tool_calls"][0].get("index").is_none());
    }

    #[test]
    fn an_answer_cut_short_counts_its_content_chunks() {
        let mut r = Reply::new("m", 1, false);
        for t in ["a", "b", "c"] {
            r.take(&chunk(
                json!({"message": {"role": "assistant", "content": t}, "done": false}),
            ));
        }
        assert_eq!(
            r.tokens(),
            Tokens {
                prompt: 0,
                completion: 3
            }
        );
        assert_eq!(r.finish_reason(), "stop");
    }
}
