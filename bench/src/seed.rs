//! Seed data, made through `POST /api/conversations/import` so it works against any app: a
//! deterministic Zipf-like vocabulary, so word frequencies look like real text and every run
//! seeds the same messages.

use crate::client::{App, User};
use anyhow::Result;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// xorshift64: small, deterministic.
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Self(0x9E37_79B9_7F4A_7C15)
    }
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Low ranks are common, as in real text.
    fn word<'a>(&mut self, words: &'a [String]) -> &'a str {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        let rank = ((words.len() as f64).powf(u) as usize).saturating_sub(1);
        &words[rank.min(words.len() - 1)]
    }

    fn message(&mut self, words: &[String]) -> String {
        let n = 8 + (self.next() % 25) as usize;
        (0..n)
            .map(|_| self.word(words))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// 1,280 made-up words (`kalo`, `mine`, `sadorter`, …).
pub fn vocabulary() -> Vec<String> {
    let syllables = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qua", "dor", "fen", "gil",
        "hob", "jun",
    ];
    let mut words = Vec::new();
    for a in syllables {
        for b in syllables {
            for c in ["", "n", "s", "ter", "ma"] {
                words.push(format!("{a}{b}{c}"));
            }
        }
    }
    words
}

/// A new user with `n` conversations of `per` messages each; returns the time the imports took.
pub async fn user_with(
    app: &App,
    n: usize,
    per: usize,
    rng: &mut Rng,
    words: &[String],
) -> Result<(User, Duration)> {
    let user = app.user().await?;
    let started = Instant::now();
    // About 5,000 messages per import, well under the import body limit.
    let batch = (5_000 / per.max(1)).clamp(1, 2_000);
    let mut left = n;
    while left > 0 {
        let k = left.min(batch);
        let conversations: Vec<Value> = (0..k)
            .map(|_| {
                let title = format!("{} {}", rng.word(words), rng.word(words));
                let messages: Vec<Value> = (0..per)
                    .map(|i| {
                        let role = if i % 2 == 0 { "user" } else { "assistant" };
                        json!({"role": role, "content": rng.message(words)})
                    })
                    .collect();
                json!({"title": title, "tags": [format!("t{}", rng.next() % 20)], "messages": messages})
            })
            .collect();
        app.post(
            &user.token,
            "/api/conversations/import",
            &json!({ "conversations": conversations }),
            201,
        )
        .await?;
        left -= k;
    }
    Ok((user, started.elapsed()))
}
