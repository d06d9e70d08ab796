//! The one table the bench prints (Markdown, so it pastes into docs/BENCHMARKS.md), with the
//! project's targets and whether each is met.

use crate::Options;
use anyhow::Result;
use std::time::Duration;

struct Row {
    what: String,
    result: String,
    target: String,
    met: Option<bool>,
}

pub struct Report {
    header: String,
    notes: Vec<String>,
    sections: Vec<(String, Vec<Row>)>,
}

pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// The `p` percentile of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

impl Report {
    pub fn new(o: &Options) -> Self {
        Self {
            header: format!(
                "bench: {} s per 16-connection load, {} single streams, fake Ollama {} tokens × {} ms",
                o.seconds,
                o.streams,
                crate::fake_stream::TOKENS,
                crate::fake_stream::TOKEN_DELAY.as_millis()
            ),
            notes: Vec::new(),
            sections: Vec::new(),
        }
    }

    pub fn note(&mut self, n: String) {
        self.notes.push(n);
    }

    pub fn section(&mut self, name: impl Into<String>) {
        self.sections.push((name.into(), Vec::new()));
    }

    fn push(&mut self, row: Row) {
        if self.sections.is_empty() {
            self.section("");
        }
        if let Some((_, rows)) = self.sections.last_mut() {
            rows.push(row);
        }
    }

    pub fn row(&mut self, what: impl Into<String>, result: impl Into<String>) {
        self.push(Row {
            what: what.into(),
            result: result.into(),
            target: String::new(),
            met: None,
        });
    }

    pub fn check(
        &mut self,
        what: impl Into<String>,
        result: impl Into<String>,
        target: &str,
        met: bool,
    ) {
        self.push(Row {
            what: what.into(),
            result: result.into(),
            target: target.to_string(),
            met: Some(met),
        });
    }

    pub fn startup(&mut self, what: &str, d: Duration) {
        if self.sections.is_empty() {
            self.section("host");
        }
        self.row(what, ms(d));
    }

    pub fn memory(&mut self, rss_kib: u64, peak_kib: u64) {
        self.section("host after the run");
        self.row(
            "host process memory: resident now / peak",
            format!(
                "{:.0} MiB / {:.0} MiB",
                rss_kib as f64 / 1024.0,
                peak_kib as f64 / 1024.0
            ),
        );
    }

    pub fn print(&self) {
        println!();
        println!("{}", self.header);
        for n in &self.notes {
            println!("{n}");
        }
        println!();
        println!("| measure | result | target | |");
        println!("|---|---|---|---|");
        for (name, rows) in &self.sections {
            if !name.is_empty() {
                println!("| **{name}** | | | |");
            }
            for r in rows {
                let mark = match r.met {
                    Some(true) => "met",
                    Some(false) => "**missed**",
                    None => "",
                };
                println!("| {} | {} | {} | {mark} |", r.what, r.result, r.target);
            }
        }
        let checks: Vec<bool> = self
            .sections
            .iter()
            .flat_map(|(_, rows)| rows.iter().filter_map(|r| r.met))
            .collect();
        println!();
        println!(
            "targets met: {} of {}",
            checks.iter().filter(|m| **m).count(),
            checks.len()
        );
    }
}

/// The release wasm of each component, as `spin build` leaves it (target ≤ 1.5 MiB each).
pub fn wasm_sizes(report: &mut Report) -> Result<()> {
    report.section("release wasm");
    let dir = test_support::testing::workspace_dir().join("target/wasm32-wasip2/release");
    for name in ["auth", "chat", "conversations", "health"] {
        let path = dir.join(format!("{name}.wasm"));
        match std::fs::metadata(&path) {
            Ok(m) => {
                let kib = m.len() as f64 / 1024.0;
                report.check(
                    format!("{name}.wasm"),
                    format!("{kib:.0} KiB"),
                    "≤ 1,536 KiB",
                    kib <= 1536.0,
                );
            }
            Err(_) => report.row(format!("{name}.wasm"), "not built here"),
        }
    }
    Ok(())
}
