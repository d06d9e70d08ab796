//! Metrics: what is counted, under which names and labels, and how the stored counters become
//! Prometheus text (`GET /metrics`). Counting and storing are in `spin::metrics`; this part
//! is plain Rust.
//!
//! Counters live in SQLite as `(name, labels, value)` rows, added to with atomic upserts, so
//! every instance and replica adds to the same totals. Durations are histograms: each bucket
//! is stored on its own (not cumulative) and summed up when rendered.

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub const PREFIX: &str = "ollama_chat_";
pub const REQUESTS: &str = "http_requests_total";
pub const DURATION_BUCKET: &str = "http_request_duration_seconds_bucket";
pub const DURATION_SUM: &str = "http_request_duration_seconds_sum";
pub const LOGINS: &str = "logins_total";
pub const CHATS: &str = "chat_requests_total";
pub const COMPLETION_TOKENS: &str = "tokens_generated_total";
pub const PROMPT_TOKENS: &str = "prompt_tokens_total";
pub const QUOTA_REFUSALS: &str = "quota_refusals_total";

/// Upper bounds of the duration histogram, in seconds.
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `le` label of the bucket a duration falls in.
pub fn bucket(seconds: f64) -> String {
    BUCKETS
        .iter()
        .find(|b| seconds <= **b)
        .map(|b| format_float(*b))
        .unwrap_or_else(|| "+Inf".into())
}

/// `name="value"` pairs, with values escaped as the text format requires.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        // Counted on every request: escape (and allocate) only when there is something to.
        if v.contains(['\\', '"', '\n']) {
            out.push_str(
                &v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n"),
            );
        } else {
            out.push_str(v);
        }
        out.push('"');
    }
    out
}

fn format_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One stored counter.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub name: String,
    pub labels: String,
    pub value: f64,
}

/// Values read when scraping (not counted per request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    /// Users by status.
    pub users: Vec<(String, i64)>,
    pub conversations: i64,
    pub messages: i64,
    pub schema_version: i64,
}

/// The whole exposition, in Prometheus text format 0.0.4.
pub fn render(gauges: &Gauges, stored: &[Stored]) -> String {
    let mut out = String::new();
    render_gauges(&mut out, gauges);
    render_counters(&mut out, stored);
    render_durations(&mut out, stored);
    out
}

fn render_gauges(out: &mut String, gauges: &Gauges) {
    head(out, "info", "gauge", "Build information.");
    let _ = writeln!(
        out,
        "{PREFIX}info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    head(
        out,
        "schema_version",
        "gauge",
        "Applied database schema version.",
    );
    let _ = writeln!(out, "{PREFIX}schema_version {}", gauges.schema_version);
    head(out, "users", "gauge", "Accounts by status.");
    for (status, n) in &gauges.users {
        let _ = writeln!(
            out,
            "{PREFIX}users{{{}}} {n}",
            labels(&[("status", status)])
        );
    }
    head(out, "conversations", "gauge", "Conversations of all users.");
    let _ = writeln!(out, "{PREFIX}conversations {}", gauges.conversations);
    head(out, "messages", "gauge", "Messages of all users.");
    let _ = writeln!(out, "{PREFIX}messages {}", gauges.messages);
}

fn render_counters(out: &mut String, stored: &[Stored]) {
    for (name, help) in [
        (REQUESTS, "HTTP requests by route family and status."),
        (LOGINS, "Logins by outcome."),
        (CHATS, "Answers asked of the model, by outcome."),
        (COMPLETION_TOKENS, "Tokens generated, by model."),
        (PROMPT_TOKENS, "Prompt tokens evaluated, by model."),
        (
            QUOTA_REFUSALS,
            "Requests refused by a token quota, by the quota spent.",
        ),
    ] {
        head(out, name, "counter", help);
        for s in stored.iter().filter(|s| s.name == name) {
            let _ = writeln!(
                out,
                "{PREFIX}{name}{{{}}} {}",
                s.labels,
                format_float(s.value)
            );
        }
    }
}

/// The duration histogram: cumulative buckets per family, then +Inf, sum and count.
fn render_durations(out: &mut String, stored: &[Stored]) {
    let base = "http_request_duration_seconds";
    head(
        out,
        base,
        "histogram",
        "Time to the response head, by route family.",
    );
    let mut per_family: BTreeMap<String, (Vec<f64>, f64, f64)> = BTreeMap::new();
    for s in stored.iter().filter(|s| s.name == DURATION_BUCKET) {
        let (fam, le) = split_bucket_labels(&s.labels);
        let entry = per_family
            .entry(fam)
            .or_insert_with(|| (vec![0.0; BUCKETS.len()], 0.0, 0.0));
        match BUCKETS.iter().position(|b| format_float(*b) == le) {
            Some(i) => entry.0[i] += s.value,
            None => entry.2 += s.value, // above the last bound: only in +Inf
        }
    }
    for s in stored.iter().filter(|s| s.name == DURATION_SUM) {
        let fam = label_value(&s.labels, "family").unwrap_or_default();
        per_family
            .entry(fam)
            .or_insert_with(|| (vec![0.0; BUCKETS.len()], 0.0, 0.0))
            .1 += s.value;
    }
    for (fam, (counts, sum, over)) in per_family {
        let fam_label = labels(&[("family", &fam)]);
        let mut cumulative = 0.0;
        for (bound, n) in BUCKETS.iter().zip(&counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{PREFIX}{base}_bucket{{{fam_label},le=\"{}\"}} {}",
                format_float(*bound),
                format_float(cumulative)
            );
        }
        let total = cumulative + over;
        let _ = writeln!(
            out,
            "{PREFIX}{base}_bucket{{{fam_label},le=\"+Inf\"}} {}",
            format_float(total)
        );
        let _ = writeln!(out, "{PREFIX}{base}_sum{{{fam_label}}} {sum}");
        let _ = writeln!(
            out,
            "{PREFIX}{base}_count{{{fam_label}}} {}",
            format_float(total)
        );
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}");
    let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
}

fn label_value(labels: &str, key: &str) -> Option<String> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let rest = &labels[start..];
    rest.find('"').map(|end| rest[..end].to_string())
}

fn split_bucket_labels(l: &str) -> (String, String) {
    (
        label_value(l, "family").unwrap_or_default(),
        label_value(l, "le").unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_first_bucket_that_holds_them() {
        assert_eq!(bucket(0.001), "0.005");
        assert_eq!(bucket(0.005), "0.005");
        assert_eq!(bucket(0.3), "0.5");
        assert_eq!(bucket(2.0), "2.5");
        assert_eq!(bucket(60.0), "+Inf");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("model", "a\"b\\c\nd"), ("x", "y")]),
            r#"model="a\"b\\c\nd",x="y""#
        );
    }

    #[test]
    fn histograms_render_cumulative_buckets_with_sum_and_count() {
        let stored = vec![
            Stored {
                name: DURATION_BUCKET.into(),
                labels: labels(&[("family", "chat"), ("le", "0.005")]),
                value: 2.0,
            },
            Stored {
                name: DURATION_BUCKET.into(),
                labels: labels(&[("family", "chat"), ("le", "0.5")]),
                value: 1.0,
            },
            Stored {
                name: DURATION_BUCKET.into(),
                labels: labels(&[("family", "chat"), ("le", "+Inf")]),
                value: 1.0,
            },
            Stored {
                name: DURATION_SUM.into(),
                labels: labels(&[("family", "chat")]),
                value: 12.5,
            },
            Stored {
                name: REQUESTS.into(),
                labels: labels(&[("family", "chat"), ("status", "200")]),
                value: 4.0,
            },
        ];
        let text = render(&Gauges::default(), &stored);
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(has(
            r#"ollama_chat_http_request_duration_seconds_bucket{family="chat",le="0.005"} 2"#
        ));
        assert!(has(
            r#"ollama_chat_http_request_duration_seconds_bucket{family="chat",le="0.25"} 2"#
        ));
        assert!(has(
            r#"ollama_chat_http_request_duration_seconds_bucket{family="chat",le="10"} 3"#
        ));
        assert!(has(
            r#"ollama_chat_http_request_duration_seconds_bucket{family="chat",le="+Inf"} 4"#
        ));
        assert!(has(
            r#"ollama_chat_http_request_duration_seconds_count{family="chat"} 4"#
        ));
        assert!(has(
            r#"ollama_chat_http_request_duration_seconds_sum{family="chat"} 12.5"#
        ));
        assert!(has(
            r#"ollama_chat_http_requests_total{family="chat",status="200"} 4"#
        ));
    }
}
