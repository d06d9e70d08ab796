//! Several Ollama servers (API.md, "Several Ollama servers"): which server answers a model,
//! failing over before the first token, and what every instance and replica shares about the
//! servers (their model lists and cooldowns in `ollama_servers`, answers in flight as live
//! `generations` rows). With one server (the default) nothing is read or written for routing:
//! every request goes to it, as before.

use crate::generations;
use crate::tags::{self, ModelInfo};
use crate::upstream::{self, Failed};
use chat_core::config::Config;
use chat_core::spin::{Db, Value, log};
use chat_core::{Error, time};
use ollama_api::servers::{Standing, try_order};
use spin_sdk::http::{Method, Response};

/// A server's model list is fetched again when older than this.
const LISTS_FRESH_FOR: i64 = 30;

/// One server as the shared tables know it.
#[derive(Debug, Clone)]
pub struct Known {
    pub url: String,
    /// Its models as last fetched (`None`: never, or forgotten after a miss).
    pub models: Option<Vec<ModelInfo>>,
    pub models_at: Option<String>,
    pub cooling_until: Option<String>,
    pub last_error: Option<String>,
    /// Answers running on it now, across every instance and replica.
    pub in_flight: i64,
}

impl Known {
    pub fn cooling(&self, now: &str) -> bool {
        self.cooling_until.as_deref().is_some_and(|u| u > now)
    }

    fn has(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_some_and(|m| m.iter().any(|i| i.answers_to(model)))
    }

    pub fn is_fresh(&self) -> bool {
        let now = time::to_unix(&time::now_rfc3339()).unwrap_or(0);
        self.models_at
            .as_deref()
            .and_then(time::to_unix)
            .is_some_and(|at| (0..LISTS_FRESH_FOR).contains(&(now - at)))
    }
}

/// One row of [`known`]'s statement: a server's row, or its count of live answers.
struct KnownRow {
    url: String,
    models: Option<String>,
    models_at: Option<String>,
    cooling_until: Option<String>,
    last_error: Option<String>,
    in_flight: Option<i64>,
}

chat_core::from_columns!(KnownRow {
    url,
    models,
    models_at,
    cooling_until,
    last_error,
    in_flight,
});

/// Every configured server, in the configured order, as the shared tables know it (one read).
pub async fn known(db: &Db, config: &Config) -> Result<Vec<Known>, Error> {
    let rows: Vec<KnownRow> = db
        .query(
            chat_store::servers::KNOWN,
            vec![Value::Text(generations::stale_before(
                config.ollama_timeout,
            ))],
        )
        .await?;
    let mut known: Vec<Known> = config
        .servers
        .urls()
        .iter()
        .map(|url| Known {
            url: url.clone(),
            models: None,
            models_at: None,
            cooling_until: None,
            last_error: None,
            in_flight: 0,
        })
        .collect();
    for row in rows {
        let Some(k) = known.iter_mut().find(|k| k.url == row.url) else {
            continue; // a server no longer configured
        };
        match row.in_flight {
            Some(n) => k.in_flight = n,
            None => {
                k.models = row
                    .models
                    .and_then(|m| serde_json::from_str::<Vec<ModelInfo>>(&m).ok());
                k.models_at = row.models_at;
                k.cooling_until = row.cooling_until;
                k.last_error = row.last_error;
            }
        }
    }
    Ok(known)
}

/// Fetches the model lists of `which` (at once) and shares them; a server that fails is
/// cooled down. Updates `known` in place; returns the failures (by index).
pub async fn refresh(
    db: &Db,
    config: &Config,
    known: &mut [Known],
    which: &[usize],
) -> Vec<(usize, Error)> {
    let mut failures = Vec::new();
    let fetched = futures::future::join_all(
        which
            .iter()
            .map(|&i| tags::fetch(&known[i].url, config.ollama_timeout)),
    )
    .await;
    let now = time::now_rfc3339();
    for (&i, result) in which.iter().zip(fetched) {
        match result {
            Ok(items) => {
                let json = serde_json::to_string(&items).unwrap_or_else(|_| "[]".into());
                let saved = db
                    .execute(
                        chat_store::servers::SAVE_MODELS,
                        vec![
                            Value::Text(known[i].url.clone()),
                            Value::Text(json),
                            Value::Text(now.clone()),
                        ],
                    )
                    .await;
                if let Err(e) = saved {
                    log::warn("model list not shared", e.causes());
                }
                known[i].models = Some(items);
                known[i].models_at = Some(now.clone());
            }
            Err(f) => {
                let until = cool(db, config, &known[i].url, &f).await;
                known[i].cooling_until = until;
                known[i].last_error = Some(f.summary().into());
                failures.push((i, f.error()));
            }
        }
    }
    failures
}

/// Puts `url` in its cooldown after `failed` (shared with every instance), when there are
/// several servers to choose from; returns the end of the cooldown. With one server there is
/// nothing to skip to, so nothing is written (and nothing competes with the answer's store
/// for the connection).
pub async fn cool(db: &Db, config: &Config, url: &str, failed: &Failed) -> Option<String> {
    if config.servers.urls().len() < 2 {
        return None;
    }
    let secs = i64::try_from(config.ollama_cooldown.as_secs()).unwrap_or(i64::MAX);
    let until = time::from_now(secs);
    log::warn(
        "Ollama server cooling down",
        &[format!("{url}: {}", failed.summary())],
    );
    let saved = db
        .execute(
            chat_store::servers::COOL,
            vec![
                Value::Text(url.into()),
                Value::Text(until.clone()),
                Value::Text(failed.summary().into()),
                Value::Text(time::now_rfc3339()),
            ],
        )
        .await;
    if let Err(e) = saved {
        log::warn("cooldown not shared", e.causes());
    }
    Some(until)
}

/// The servers to try for `model`, best first: those that have it and are not cooling down,
/// fewest answers in flight first, ties to the earlier. Lists older than a short while are
/// fetched again; when no server has the model, every list is (it may have been pulled since).
/// None has it: `404 MODEL_NOT_FOUND`; all that have it are cooling: `503
/// OLLAMA_UNAVAILABLE` with `retry-after`.
pub async fn order(db: &Db, config: &Config, model: &str) -> Result<Vec<String>, Error> {
    let urls = config.servers.urls();
    if urls.len() < 2 {
        return Ok(urls.to_vec());
    }
    let mut known = known(db, config).await?;
    let now = time::now_rfc3339();
    let stale: Vec<usize> = (0..known.len())
        .filter(|&i| !known[i].cooling(&now) && !known[i].is_fresh())
        .collect();
    refresh(db, config, &mut known, &stale).await;
    if !known.iter().any(|k| k.has(model)) {
        let rest: Vec<usize> = (0..known.len())
            .filter(|&i| !stale.contains(&i) && !known[i].cooling(&now))
            .collect();
        refresh(db, config, &mut known, &rest).await;
    }
    let standings: Vec<Standing> = known
        .iter()
        .map(|k| Standing {
            has_model: k.has(model),
            cooling: k.cooling(&now),
            in_flight: u32::try_from(k.in_flight).unwrap_or(u32::MAX),
        })
        .collect();
    let order: Vec<String> = try_order(&standings)
        .into_iter()
        .map(|i| known[i].url.clone())
        .collect();
    if !order.is_empty() {
        return Ok(order);
    }
    if !known.iter().any(|k| k.has(model)) {
        return Err(upstream::model_not_found(model));
    }
    let soonest = known
        .iter()
        .filter(|k| k.has(model))
        .filter_map(|k| k.cooling_until.as_deref())
        .filter_map(|u| time::seconds_between(&now, u))
        .min()
        .unwrap_or(1)
        .max(1);
    Err(
        upstream::unavailable("every server with the model is cooling down")
            .header(http::header::RETRY_AFTER, soonest.to_string()),
    )
}

/// The servers a new answer may be registered on, as the registering statement takes them.
pub struct Candidates(Vec<String>);

impl Candidates {
    /// Those of `order`, in the configured order (ties go to the earlier).
    pub fn new(config: &Config, order: &[String]) -> Self {
        Self(
            config
                .servers
                .urls()
                .iter()
                .filter(|u| order.contains(u))
                .cloned()
                .collect(),
        )
    }

    /// More than one: the registration picks, and Ollama is asked once it has.
    pub fn several(&self) -> bool {
        self.0.len() > 1
    }

    /// The candidates as the registering statement takes them (`chat_store::generations`):
    /// the one server, or with several a JSON array of them.
    pub fn param(&self) -> String {
        match self.0.as_slice() {
            [one] => one.clone(),
            all => serde_json::to_string(all).unwrap_or_else(|_| "[]".into()),
        }
    }
}

/// `order` with `first` (the server the registration picked) in front.
pub fn starting_with(order: &[String], first: &str) -> Vec<String> {
    let mut out = vec![first.to_string()];
    out.extend(order.iter().filter(|u| *u != first).cloned());
    out
}

/// Whether a request that failed on one server should move on to the next (when there is
/// one): the server was at fault, or did not have the model after all.
pub fn moves_on(failed: &Failed) -> bool {
    failed.server_at_fault() || matches!(failed, Failed::NoModel(_))
}

/// Shares what `failed` says about `url` (see [`moves_on`]): a server at fault cools down; one
/// without the model has its list forgotten. And moves the running answer `generation` to
/// `next`, so answers in flight stay counted where they run.
pub async fn after_failure(
    db: &Db,
    config: &Config,
    url: &str,
    failed: &Failed,
    generation: Option<(&str, &str)>,
) {
    if matches!(failed, Failed::NoModel(_)) {
        forget(db, url).await;
    } else if failed.server_at_fault() {
        cool(db, config, url, failed).await;
    }
    if let Some((id, next)) = generation {
        generations::move_to(db, id, next).await;
    }
}

/// A request for `model`, to the servers in `order` until one begins to answer (see
/// [`after_failure`]); nothing else may be using `db`. The answer, and the server that gave
/// it; or the last failure.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    db: &Db,
    config: &Config,
    order: &[String],
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    model: Option<&str>,
) -> Result<(Response, String), Error> {
    let timeout = config.ollama_timeout;
    let mut last: Option<Failed> = None;
    for (i, url) in order.iter().enumerate() {
        match upstream::attempt(url, method.clone(), path, body, timeout, model).await {
            Ok(resp) => return Ok((resp, url.clone())),
            Err(f) if moves_on(&f) && i + 1 < order.len() => {
                after_failure(db, config, url, &f, None).await;
                last = Some(f);
            }
            Err(f) => {
                if order.len() > 1 {
                    after_failure(db, config, url, &f, None).await;
                }
                return Err(f.error());
            }
        }
    }
    Err(last.map_or_else(|| upstream::unavailable("no Ollama server"), Failed::error))
}

/// Drops `url`'s model list, so the next request fetches it again.
pub async fn forget(db: &Db, url: &str) {
    let _ = db
        .execute(
            chat_store::servers::FORGET_MODELS,
            vec![Value::Text(url.into())],
        )
        .await;
}

/// `?server=`: one of the configured servers (`400 VALIDATION_ERROR` otherwise), or all.
pub fn chosen<'a>(config: &'a Config, server: Option<&str>) -> Result<Vec<&'a String>, Error> {
    let urls = config.servers.urls();
    match server {
        None => Ok(urls.iter().collect()),
        Some(s) => {
            let s = s.trim_end_matches('/');
            urls.iter()
                .find(|u| u.eq_ignore_ascii_case(s))
                .map(|u| vec![u])
                .ok_or_else(|| {
                    Error::validation("server", "must be one of the configured Ollama servers")
                })
        }
    }
}
