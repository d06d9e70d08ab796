//! A thin layer over Spin's key-value store with JSON values, every call bounded in time.

use crate::error::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spin_sdk::key_value::Store;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a key-value call may take before the request gives up on it with `503`. A store
/// that went away holds a call for as long as the host's client keeps reconnecting: under
/// Spin with Redis stopped, every signed-in request and `/health/ready` hung (no answer in
/// 70 s). A working store answers in well under a millisecond.
const LIMIT: Duration = Duration::from_millis(1500);

/// After a call ran out of time, this instance's next calls within this long fail at once
/// instead of each waiting [`LIMIT`] again (a signed-in request makes two).
const HOLD_OFF: Duration = Duration::from_secs(1);

/// When the last call ran out of time (in this instance).
static TIMED_OUT_AT: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

/// `call`, or `503` (`Error::unavailable`) when it fails or takes longer than [`LIMIT`].
async fn bounded<T, E: std::fmt::Debug>(
    what: &str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    let recent = TIMED_OUT_AT
        .lock()
        .ok()
        .and_then(|t| *t)
        .is_some_and(|t| t.elapsed() < HOLD_OFF);
    if recent {
        return Err(Error::unavailable(format!(
            "key-value {what}: the store did not answer a moment ago"
        )));
    }
    let call = std::pin::pin!(call);
    let limit = std::pin::pin!(spin_sdk::time::sleep(LIMIT));
    let done = futures::future::select(call, limit).await;
    // Spin's local store runs each call in place on the host's thread (`block_in_place`). An
    // answer sent right after such a call often left as two writes, its body held by Nagle
    // until the client's delayed ACK: ~40 ms on a kept-alive connection (an authenticated
    // 404, `/info` with a token). One yield to the host's executor first avoids it.
    spin_sdk::wit_bindgen::yield_async().await;
    match done {
        futures::future::Either::Left((Ok(v), _)) => Ok(v),
        futures::future::Either::Left((Err(e), _)) => {
            Err(Error::unavailable(format!("key-value {what}")).because(format!("{e:?}")))
        }
        futures::future::Either::Right(_) => {
            if let Ok(mut t) = TIMED_OUT_AT.lock() {
                *t = Some(std::time::Instant::now());
            }
            Err(Error::unavailable(format!(
                "key-value {what}: no answer within {LIMIT:?}"
            )))
        }
    }
}

pub struct Kv {
    store: Arc<Store>,
}

impl Kv {
    /// The default store, opened once per instance: opening and closing it were two host
    /// calls on every signed-in request. Its calls do not depend on one another, so tasks
    /// may share it (unlike a SQLite connection, see `Db`).
    pub async fn open_default() -> Result<Self, Error> {
        static DEFAULT: OnceLock<Arc<Store>> = OnceLock::new();
        if let Some(store) = DEFAULT.get() {
            return Ok(Self {
                store: store.clone(),
            });
        }
        let store = bounded("open", Store::open_default()).await?;
        Ok(Self {
            store: DEFAULT.get_or_init(|| Arc::new(store)).clone(),
        })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        bounded("get", self.store.get(key)).await
    }

    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        bounded("set", self.store.set(key, value)).await
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        bounded("delete", self.store.delete(key)).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.get(key).await? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::internal(format!("kv value for {key} is not valid JSON")).because(e)
            }),
            None => Ok(None),
        }
    }

    pub async fn set_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), Error> {
        let bytes = serde_json::to_vec(value).map_err(Error::internal)?;
        self.set(key, &bytes).await
    }
}
