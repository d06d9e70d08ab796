//! Server-sent event framing (`text/event-stream`).

use serde::Serialize;

/// One server-sent event: `event: name`, then the JSON on one `data:` line.
pub fn sse_event(name: &str, data: &impl Serialize) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "null".into());
    format!("event: {name}\ndata: {json}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_framed() {
        assert_eq!(
            sse_event("delta", &serde_json::json!({"content": "a\nb"})),
            "event: delta\ndata: {\"content\":\"a\\nb\"}\n\n"
        );
    }
}
