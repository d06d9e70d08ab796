//! Builds the app's components as `spin build` does, from each component's `build.command`.
//! Commands of the form `cargo build ... -p NAME` in one workspace are merged into one cargo
//! invocation, so the components share one build (and cargo builds them in parallel).

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Deserialize)]
struct BuildManifest {
    #[serde(default)]
    component: BTreeMap<String, BuildComponent>,
}

#[derive(Deserialize)]
struct BuildComponent {
    build: Option<BuildSection>,
}

#[derive(Deserialize)]
struct BuildSection {
    command: String,
    #[serde(default)]
    workdir: Option<String>,
}

/// Runs every component's build command (merged where possible). Prints cargo's output.
pub fn build_components(manifest: &Path) -> Result<()> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let parsed: BuildManifest = toml::from_str(&text)?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut merged: BTreeMap<(PathBuf, String), Vec<String>> = BTreeMap::new();
    let mut others: Vec<(PathBuf, String)> = Vec::new();
    for (id, c) in parsed.component {
        let Some(build) = c.build else { continue };
        let workdir = dir.join(build.workdir.unwrap_or_default());
        match split_package(&build.command) {
            Some((base, package)) => merged.entry((workdir, base)).or_default().push(package),
            None => {
                eprintln!("building component {id}: {}", build.command);
                others.push((workdir, build.command));
            }
        }
    }
    for ((workdir, base), packages) in merged {
        let mut command = base.clone();
        for p in &packages {
            command.push_str(" -p ");
            command.push_str(p);
        }
        run(&workdir, &command)?;
    }
    for (workdir, command) in others {
        run(&workdir, &command)?;
    }
    Ok(())
}

/// `cargo build --target wasm32-wasip2 --release -p NAME` -> (command without `-p NAME`, NAME).
fn split_package(command: &str) -> Option<(String, String)> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if words.first() != Some(&"cargo") || words.get(1) != Some(&"build") {
        return None;
    }
    let at = words.iter().position(|w| *w == "-p" || *w == "--package")?;
    let package = words.get(at + 1)?.to_string();
    let rest: Vec<&str> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at && *i != at + 1)
        .map(|(_, w)| *w)
        .collect();
    Some((rest.join(" "), package))
}

fn run(workdir: &Path, command: &str) -> Result<()> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(workdir)
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("build command failed ({status}): {command}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_package;

    #[test]
    fn package_flag_is_split_off() {
        assert_eq!(
            split_package("cargo build --target wasm32-wasip2 --release -p auth"),
            Some((
                "cargo build --target wasm32-wasip2 --release".to_string(),
                "auth".to_string()
            ))
        );
        assert_eq!(split_package("make wasm"), None);
    }
}
