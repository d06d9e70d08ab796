//! `spin-test-host up`: serve the app on this machine without the Spin CLI, with `spin up`'s
//! flags. `spin-test-host build` builds the components as `spin build` does.

use anyhow::{Context, Result, bail};
use spin_test_host::{Range, ReuseConfig, UpOptions, up};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "\
usage: spin-test-host up [options]      serve the app (like `spin up`)
       spin-test-host build [options]   build the components (like `spin build`)

options:
  -f, --from FILE                          manifest (default: spin.toml)
  --listen ADDR                            default 127.0.0.1:3000
  --runtime-config-file FILE               runtime configuration (stores, variables)
  --state-dir DIR                          state folder (default .spin beside spin.toml; \"\" = in memory)
  --variable NAME=VALUE                    set an application variable (repeatable)
  --build                                  build the components first
  --max-instance-reuse-count N|A..B        requests per instance (default 128)
  --max-instance-concurrent-reuse-count N|A..B  concurrent requests per instance (default 16)
  --idle-instance-timeout SECS|A..B        how long an idle instance is kept (default 1)
  --request-timeout SECS                   end a request after this long (default: none)
";

fn range_usize(v: &str) -> Result<Range<usize>> {
    Ok(match v.split_once("..") {
        Some((a, b)) => Range {
            min: a.parse()?,
            max: b.parse()?,
        },
        None => Range::exactly(v.parse()?),
    })
}

fn secs(v: &str) -> Result<Duration> {
    Ok(Duration::from_secs_f64(v.parse::<f64>()?))
}

fn range_secs(v: &str) -> Result<Range<Duration>> {
    Ok(match v.split_once("..") {
        Some((a, b)) => Range {
            min: secs(a)?,
            max: secs(b)?,
        },
        None => Range::exactly(secs(v)?),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    if !matches!(command.as_str(), "up" | "build") {
        eprint!("{USAGE}");
        bail!("expected `up` or `build`");
    }
    let mut manifest = PathBuf::from("spin.toml");
    let mut options = UpOptions::new("spin.toml");
    let mut reuse = ReuseConfig::default();
    let mut build = command == "build";
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-f" | "--from" => manifest = PathBuf::from(value()?),
            "--listen" => options.listen = value()?.parse()?,
            "--runtime-config-file" => options.runtime_config_file = Some(value()?.into()),
            "--state-dir" => options.state_dir = Some(value()?.into()),
            "--variable" => {
                let v = value()?;
                let (k, val) = v.split_once('=').context("--variable takes NAME=VALUE")?;
                options.variables.push((k.to_string(), val.to_string()));
            }
            "--build" => build = true,
            "--max-instance-reuse-count" => {
                reuse.max_instance_reuse_count = range_usize(&value()?)?
            }
            "--max-instance-concurrent-reuse-count" => {
                reuse.max_instance_concurrent_reuse_count = range_usize(&value()?)?
            }
            "--idle-instance-timeout" => reuse.idle_instance_timeout = range_secs(&value()?)?,
            "--request-timeout" => reuse.request_timeout = Some(secs(&value()?)?),
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    options.manifest = manifest.clone();
    options.reuse = reuse;
    if build {
        spin_test_host::build::build_components(&manifest)?;
        if command == "build" {
            return Ok(());
        }
    }
    let app = up(options).await?;
    println!("Serving {}", app.url());
    println!("Available routes: see spin.toml ([[trigger.http]])");
    app.wait().await
}
