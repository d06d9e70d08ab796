//! A thin layer over Spin's key-value store with JSON values.

use crate::error::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use spin_sdk::key_value::Store;
use std::sync::{Arc, OnceLock};

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
        let store = Store::open_default()
            .await
            .map_err(|e| Error::internal("opening key-value store").because(format!("{e:?}")))?;
        Ok(Self {
            store: DEFAULT.get_or_init(|| Arc::new(store)).clone(),
        })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.store
            .get(key)
            .await
            .map_err(|e| Error::internal("kv get").because(format!("{e:?}")))
    }

    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), Error> {
        self.store
            .set(key, value)
            .await
            .map_err(|e| Error::internal("kv set").because(format!("{e:?}")))
    }

    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.store
            .delete(key)
            .await
            .map_err(|e| Error::internal("kv delete").because(format!("{e:?}")))
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
