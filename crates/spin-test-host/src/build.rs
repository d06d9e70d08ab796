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
        ensure_target(&workdir, &base)?;
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

/// `--target T` of a cargo command.
fn target_of(command: &str) -> Option<&str> {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--target" {
            return words.next();
        }
        if let Some(t) = w.strip_prefix("--target=") {
            return Some(t);
        }
    }
    None
}

/// Makes sure the toolchain cargo uses in `workdir` has the standard library for the command's
/// `--target`. rustup installs the targets rust-toolchain.toml lists only when it installs the
/// toolchain itself, so a machine that already had the toolchain lacks them and the build fails
/// with "can't find crate for `core`". Adds it with rustup (as `.ci/run` did), or stops with
/// the command to run.
fn ensure_target(workdir: &Path, command: &str) -> Result<()> {
    let Some(target) = target_of(command) else {
        return Ok(());
    };
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(workdir)
        .output()
        .context("running rustc --print sysroot")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
    {
        return Ok(());
    }
    let add = format!("rustup target add {target}");
    eprintln!(
        "the toolchain at {} has no {target} target: {add}",
        sysroot.display()
    );
    match Command::new("rustup")
        .args(["target", "add", target])
        .current_dir(workdir)
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => bail!(
            "`{add}` failed ({s}); run it in {} and try again",
            workdir.display()
        ),
        Err(e) => bail!(
            "the Rust toolchain has no {target} target and rustup could not be run ({e}): \
             install the target (with rustup: `{add}`) and try again"
        ),
    }
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
    use super::{split_package, target_of};

    #[test]
    fn target_is_read_from_the_command() {
        assert_eq!(
            target_of("cargo build --target wasm32-wasip2 --release"),
            Some("wasm32-wasip2")
        );
        assert_eq!(
            target_of("cargo build --target=wasm32-wasip2"),
            Some("wasm32-wasip2")
        );
        assert_eq!(target_of("cargo build --release"), None);
    }

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
