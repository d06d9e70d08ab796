//! Spin variables, and the app [`Config`] built from them once per instance. The one way a
//! component reads a variable: the pipeline's through [`config`], a component's own settings
//! through [`get`] and [`number`], which refuse a variable the component does not declare
//! (see `crate::variables`: every variable, its default and its readers, checked against
//! spin.toml).

use crate::config::Config;
use crate::error::Error;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A variable's value. A variable the component does not declare in spin.toml is an error
/// naming it, not its default: a forgotten declaration would otherwise pass unnoticed.
pub async fn get(name: &str) -> Result<String, Error> {
    all()?.get(name).cloned().ok_or_else(|| {
        Error::internal(format!(
            "variable `{name}` is not declared for this component in spin.toml"
        ))
    })
}

/// Every variable the component declares, read on an instance's first request with one host
/// call (`wasi:config/store.get-all`) and kept: Spin resolves variables per call, through
/// providers that end with a lookup of the environment run in place, and a new instance's
/// ~25 separate reads made its first token ~0.3 ms later under Spin (docs/BENCHMARKS.md).
/// Variables are fixed for an app run, so an instance may keep them.
fn all() -> Result<&'static HashMap<String, String>, Error> {
    static ALL: OnceLock<HashMap<String, String>> = OnceLock::new();
    if let Some(a) = ALL.get() {
        return Ok(a);
    }
    let all = spin_sdk::experimental::wasi::config::store::get_all()
        .map_err(|e| Error::internal("reading variables").because(format!("{e:?}")))?;
    Ok(ALL.get_or_init(|| all.into_iter().collect()))
}

/// A whole-number variable of at least `min`; blank means its default (`crate::variables`).
pub async fn number(name: &'static str, min: i64) -> Result<i64, Error> {
    let v = get(name).await?;
    let v = match v.trim() {
        "" => crate::variables::default_of(name),
        v => v,
    };
    match v.parse::<i64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(Error::internal(format!(
            "variable `{name}` must be a whole number ≥ {min}, not {v:?}"
        ))),
    }
}

/// The config, read from variables on an instance's first request. Spin may reuse an
/// instance for many requests; caching there is safe because variables are fixed per app run.
pub async fn config() -> Result<Arc<Config>, Error> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let all = all()?;
    let config = Config::from_lookup(|name| all.get(name).cloned()).map_err(Error::internal)?;
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}
