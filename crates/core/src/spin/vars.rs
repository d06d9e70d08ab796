//! Spin variables, and the app [`Config`] built from them once per instance.

use crate::config::Config;
use crate::error::Error;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A variable's value, or `None` when the component does not declare it.
pub async fn get(name: &str) -> Result<Option<String>, Error> {
    Ok(all()?.get(name).cloned())
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

/// A whole-number variable of at least `min`; unset or blank means `default`.
pub async fn number(name: &'static str, default: i64, min: i64) -> Result<i64, Error> {
    match get(name).await?.filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(Error::internal(format!(
                "variable `{name}` must be a whole number ≥ {min}, not {v:?}"
            ))),
        },
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
