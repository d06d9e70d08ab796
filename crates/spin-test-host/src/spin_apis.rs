//! Host implementations of the Spin interfaces the app imports: `spin:sqlite@3.1.0`,
//! `spin:key-value@3.0.0` and `spin:variables@3.0.0`, with Spin's access rules (a component may
//! only open the databases and stores its manifest entry lists, and only read the variables
//! declared in its `[component.x.variables]`).

use crate::stores::{Cas, KvStore, SqliteConnection, Stores, SwapError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, StreamReader};

wasmtime::component::bindgen!({
    path: "wit",
    world: "host",
    imports: { default: async },
});

pub use spin::key_value::key_value as kv;
pub use spin::sqlite::sqlite;
pub use spin::variables::variables as vars;
pub use wasi::config::store as wasi_config;
pub use wasi::keyvalue::{atomics as wasi_atomics, batch as wasi_batch, store as wasi_kv};

/// What one component may use, shared by all of its instances.
#[derive(Debug)]
pub struct ComponentGrants {
    pub id: String,
    pub sqlite_databases: Vec<String>,
    pub key_value_stores: Vec<String>,
    /// Component variable name -> its template (`"{{ ollama_url }}"`).
    pub variables: BTreeMap<String, String>,
    pub resolver: Arc<crate::variables::Resolver>,
}

/// Per-instance state behind the Spin interfaces.
pub struct SpinState {
    pub grants: Arc<ComponentGrants>,
    pub stores: Arc<Stores>,
    next_rep: u32,
    connections: HashMap<u32, Arc<SqliteConnection>>,
    kv_stores: HashMap<u32, Arc<KvStore>>,
    cases: HashMap<u32, Arc<Cas>>,
}

impl SpinState {
    pub fn new(grants: Arc<ComponentGrants>, stores: Arc<Stores>) -> Self {
        Self {
            grants,
            stores,
            next_rep: 1,
            connections: HashMap::new(),
            kv_stores: HashMap::new(),
            cases: HashMap::new(),
        }
    }

    /// The component this state belongs to.
    pub fn component(&self) -> &str {
        &self.grants.id
    }

    fn rep(&mut self) -> u32 {
        let rep = self.next_rep;
        self.next_rep = self.next_rep.wrapping_add(1).max(1);
        rep
    }

    fn open_db(&mut self, database: &str) -> Result<u32, sqlite::Error> {
        if !self.grants.sqlite_databases.iter().any(|d| d == database) {
            return Err(sqlite::Error::AccessDenied);
        }
        let conn = self
            .stores
            .sqlite_connection(database)
            .ok_or(sqlite::Error::NoSuchDatabase)?;
        if self.connections.len() >= 256 {
            return Err(sqlite::Error::Io("too many connections opened".into()));
        }
        let rep = self.rep();
        self.connections.insert(rep, Arc::new(conn));
        Ok(rep)
    }

    fn connection(&self, rep: u32) -> Result<Arc<SqliteConnection>, sqlite::Error> {
        self.connections
            .get(&rep)
            .cloned()
            .ok_or(sqlite::Error::InvalidConnection)
    }

    fn kv(&self, rep: u32) -> Result<Arc<KvStore>, kv::Error> {
        self.kv_stores
            .get(&rep)
            .cloned()
            .ok_or_else(|| kv::Error::Other("invalid store handle".into()))
    }
}

/// The `HasData` marker through which the generated bindings reach [`SpinState`].
pub struct SpinApis;

impl HasData for SpinApis {
    type Data<'a> = &'a mut SpinState;
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    get: fn(&mut T) -> &mut SpinState,
) -> wasmtime::Result<()> {
    Host_::add_to_linker::<T, SpinApis>(linker, get)
}

// ---- spin:sqlite ----

impl sqlite::Host for SpinState {}

impl sqlite::HostConnection for SpinState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Resource<sqlite::Connection>, sqlite::Error> {
        self.open_db(&database).map(Resource::new_own)
    }

    async fn execute(
        &mut self,
        this: Resource<sqlite::Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let conn = self.connection(this.rep())?;
        let (columns, rows) = conn.query(statement, parameters).await?;
        Ok(sqlite::QueryResult {
            columns,
            rows: rows
                .into_iter()
                .map(|values| sqlite::RowResult { values })
                .collect(),
        })
    }

    async fn last_insert_rowid(&mut self, this: Resource<sqlite::Connection>) -> i64 {
        match self.connection(this.rep()) {
            Ok(c) => c.last_insert_rowid().await,
            Err(_) => 0,
        }
    }

    async fn changes(&mut self, this: Resource<sqlite::Connection>) -> u64 {
        match self.connection(this.rep()) {
            Ok(c) => c.changes().await,
            Err(_) => 0,
        }
    }

    async fn drop(&mut self, rep: Resource<sqlite::Connection>) -> wasmtime::Result<()> {
        self.connections.remove(&rep.rep());
        Ok(())
    }
}

impl<T> sqlite::HostConnectionWithStore<T> for SpinApis {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> Result<Resource<sqlite::Connection>, sqlite::Error> {
        crate::trace::event(|| format!("sqlite open {database}"));
        accessor.with(|mut access| access.get().open_db(&database).map(Resource::new_own))
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        this: Resource<sqlite::Connection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<
        (
            Vec<String>,
            StreamReader<sqlite::RowResult>,
            FutureReader<Result<(), sqlite::Error>>,
        ),
        sqlite::Error,
    > {
        let conn = accessor.with(|mut access| access.get().connection(this.rep()))?;
        // As Spin: rows reach the guest one per stream read, as the statement yields them,
        // and a statement that fails to start still answers with its (empty) columns, the
        // error coming through the future.
        let crate::stores::RowStream {
            columns,
            rows,
            done,
        } = conn.query_streamed(statement, parameters).await?;
        accessor
            .with(|mut access| {
                let stream = StreamReader::new(&mut access, OneRowAtATime(rows))?;
                let done = FutureReader::new(&mut access, async move {
                    wasmtime::Result::<Result<(), sqlite::Error>>::Ok(
                        done.await
                            .unwrap_or_else(|e| Err(sqlite::Error::Io(e.to_string()))),
                    )
                })?;
                wasmtime::Result::Ok((columns, stream, done))
            })
            .map_err(|e: wasmtime::Error| sqlite::Error::Io(e.to_string()))
    }

    async fn last_insert_rowid_async(
        accessor: &Accessor<T, Self>,
        this: Resource<sqlite::Connection>,
    ) -> i64 {
        match accessor.with(|mut access| access.get().connection(this.rep())) {
            Ok(c) => c.last_insert_rowid().await,
            Err(_) => 0,
        }
    }

    async fn changes_async(
        accessor: &Accessor<T, Self>,
        this: Resource<sqlite::Connection>,
    ) -> u64 {
        crate::trace::event(|| "sqlite changes".into());
        match accessor.with(|mut access| access.get().connection(this.rep())) {
            Ok(c) => c.changes().await,
            Err(_) => 0,
        }
    }
}

/// Rows for the guest, one per read whatever the read could take, as Spin's
/// `spin_wasi_async::stream::producer` delivers them.
struct OneRowAtATime(tokio::sync::mpsc::Receiver<Vec<sqlite::Value>>);

impl<D> wasmtime::component::StreamProducer<D> for OneRowAtATime {
    type Item = sqlite::RowResult;
    type Buffer = Option<sqlite::RowResult>;

    fn poll_produce<'a>(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        store: wasmtime::StoreContextMut<'a, D>,
        mut destination: wasmtime::component::Destination<'a, Self::Item, Self::Buffer>,
        finish: bool,
    ) -> std::task::Poll<wasmtime::Result<wasmtime::component::StreamResult>> {
        use std::task::Poll;
        use wasmtime::component::StreamResult;
        if destination.remaining(store) == Some(0) {
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        match self.get_mut().0.poll_recv(cx) {
            Poll::Ready(Some(values)) => {
                destination.set_buffer(Some(sqlite::RowResult { values }));
                Poll::Ready(Ok(StreamResult::Completed))
            }
            Poll::Ready(None) => Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
        }
    }
}

// ---- spin:key-value ----

impl kv::Host for SpinState {}

impl kv::HostStore for SpinState {
    async fn drop(&mut self, rep: Resource<kv::Store>) -> wasmtime::Result<()> {
        self.kv_stores.remove(&rep.rep());
        Ok(())
    }
}

impl<T> kv::HostStoreWithStore<T> for SpinApis {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> Result<Resource<kv::Store>, kv::Error> {
        let store = accessor.with(|mut access| {
            let state = access.get();
            if !state.grants.key_value_stores.contains(&label) {
                return Err(kv::Error::AccessDenied);
            }
            state.stores.kv_store(&label).ok_or(kv::Error::NoSuchStore)
        })?;
        store.opened().await?;
        accessor.with(|mut access| {
            let state = access.get();
            if state.kv_stores.len() >= 256 {
                return Err(kv::Error::StoreTableFull);
            }
            let rep = state.rep();
            state.kv_stores.insert(rep, Arc::new(store));
            Ok(Resource::new_own(rep))
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        this: Resource<kv::Store>,
        key: String,
    ) -> Result<Option<Vec<u8>>, kv::Error> {
        crate::trace::event(|| format!("kv get {key}"));
        let store = accessor.with(|mut access| access.get().kv(this.rep()))?;
        store.get(key).await
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        this: Resource<kv::Store>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), kv::Error> {
        crate::trace::event(|| format!("kv set {key}"));
        let store = accessor.with(|mut access| access.get().kv(this.rep()))?;
        store.set(key, value).await
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        this: Resource<kv::Store>,
        key: String,
    ) -> Result<(), kv::Error> {
        crate::trace::event(|| format!("kv delete {key}"));
        let store = accessor.with(|mut access| access.get().kv(this.rep()))?;
        store.delete(key).await
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        this: Resource<kv::Store>,
        key: String,
    ) -> Result<bool, kv::Error> {
        crate::trace::event(|| format!("kv exists {key}"));
        let store = accessor.with(|mut access| access.get().kv(this.rep()))?;
        store.exists(key).await
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        this: Resource<kv::Store>,
    ) -> (StreamReader<String>, FutureReader<Result<(), kv::Error>>) {
        let store = accessor.with(|mut access| access.get().kv(this.rep()));
        let (keys, result) = match store {
            Ok(store) => match store.keys().await {
                Ok(keys) => (keys, Ok(())),
                Err(e) => (Vec::new(), Err(e)),
            },
            Err(e) => (Vec::new(), Err(e)),
        };
        accessor.with(|mut access| {
            let stream = match StreamReader::new(&mut access, keys) {
                Ok(s) => s,
                Err(e) => panic!("spin-test-host: creating a stream failed: {e}"),
            };
            let done = match FutureReader::new(&mut access, async move {
                wasmtime::Result::<Result<(), kv::Error>>::Ok(result)
            }) {
                Ok(f) => f,
                Err(e) => panic!("spin-test-host: creating a future failed: {e}"),
            };
            (stream, done)
        })
    }
}

// ---- wasi:keyvalue (store, atomics, batch) ----
//
// As Spin's `KeyValueDispatch`: the same access rules and stores as `spin:key-value`, through
// functions that are synchronous for the guest (its other tasks wait, as under Spin).

fn to_wasi(e: kv::Error) -> wasi_kv::Error {
    match e {
        kv::Error::AccessDenied => wasi_kv::Error::AccessDenied,
        kv::Error::NoSuchStore => wasi_kv::Error::NoSuchStore,
        kv::Error::StoreTableFull => wasi_kv::Error::Other("store table full".into()),
        kv::Error::Other(m) => wasi_kv::Error::Other(m),
    }
}

impl SpinState {
    fn bucket(&self, rep: u32) -> Result<Arc<KvStore>, wasi_kv::Error> {
        self.kv_stores
            .get(&rep)
            .cloned()
            .ok_or(wasi_kv::Error::NoSuchStore)
    }

    fn add_cas(&mut self, cas: Cas) -> Result<Resource<wasi_atomics::Cas>, wasi_kv::Error> {
        if self.cases.len() >= 256 {
            return Err(wasi_kv::Error::Other(
                "too many compare_and_swaps opened".into(),
            ));
        }
        let rep = self.rep();
        self.cases.insert(rep, Arc::new(cas));
        Ok(Resource::new_own(rep))
    }
}

impl wasi_kv::Host for SpinState {
    async fn open(&mut self, label: String) -> Result<Resource<wasi_kv::Bucket>, wasi_kv::Error> {
        if !self.grants.key_value_stores.contains(&label) {
            return Err(wasi_kv::Error::AccessDenied);
        }
        let store = self
            .stores
            .kv_store(&label)
            .ok_or(wasi_kv::Error::NoSuchStore)?;
        store.opened().await.map_err(to_wasi)?;
        if self.kv_stores.len() >= 256 {
            return Err(wasi_kv::Error::Other("store table full".into()));
        }
        let rep = self.rep();
        self.kv_stores.insert(rep, Arc::new(store));
        Ok(Resource::new_own(rep))
    }
}

impl wasi_kv::HostBucket for SpinState {
    async fn get(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        self.bucket(this.rep())?.get(key).await.map_err(to_wasi)
    }

    async fn set(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), wasi_kv::Error> {
        self.bucket(this.rep())?
            .set(key, value)
            .await
            .map_err(to_wasi)
    }

    async fn delete(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<(), wasi_kv::Error> {
        self.bucket(this.rep())?.delete(key).await.map_err(to_wasi)
    }

    async fn exists(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<bool, wasi_kv::Error> {
        self.bucket(this.rep())?.exists(key).await.map_err(to_wasi)
    }

    async fn list_keys(
        &mut self,
        this: Resource<wasi_kv::Bucket>,
        cursor: Option<String>,
    ) -> Result<wasi_kv::KeyResponse, wasi_kv::Error> {
        if cursor.is_some() {
            return Err(wasi_kv::Error::Other(
                "list_keys: cursor not supported".into(),
            ));
        }
        let keys = self.bucket(this.rep())?.keys().await.map_err(to_wasi)?;
        Ok(wasi_kv::KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, rep: Resource<wasi_kv::Bucket>) -> wasmtime::Result<()> {
        self.kv_stores.remove(&rep.rep());
        Ok(())
    }
}

impl wasi_batch::Host for SpinState {
    async fn get_many(
        &mut self,
        bucket: Resource<wasi_kv::Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, wasi_kv::Error> {
        let store = self.bucket(bucket.rep())?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        store.get_many(keys).await.map_err(to_wasi)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<wasi_kv::Bucket>,
        pairs: Vec<(String, Vec<u8>)>,
    ) -> Result<(), wasi_kv::Error> {
        let store = self.bucket(bucket.rep())?;
        if pairs.is_empty() {
            return Ok(());
        }
        store.set_many(pairs).await.map_err(to_wasi)
    }

    async fn delete_many(
        &mut self,
        bucket: Resource<wasi_kv::Bucket>,
        keys: Vec<String>,
    ) -> Result<(), wasi_kv::Error> {
        let store = self.bucket(bucket.rep())?;
        if keys.is_empty() {
            return Ok(());
        }
        store.delete_many(keys).await.map_err(to_wasi)
    }
}

impl wasi_atomics::HostCas for SpinState {
    async fn new(
        &mut self,
        bucket: Resource<wasi_kv::Bucket>,
        key: String,
    ) -> Result<Resource<wasi_atomics::Cas>, wasi_kv::Error> {
        let cas = self
            .bucket(bucket.rep())?
            .new_cas(key)
            .await
            .map_err(to_wasi)?;
        self.add_cas(cas)
    }

    async fn current(
        &mut self,
        this: Resource<wasi_atomics::Cas>,
    ) -> Result<Option<Vec<u8>>, wasi_kv::Error> {
        let cas = self
            .cases
            .get(&this.rep())
            .cloned()
            .ok_or_else(|| wasi_kv::Error::Other("compare and swap not found".into()))?;
        cas.current().await.map_err(to_wasi)
    }

    async fn drop(&mut self, rep: Resource<wasi_atomics::Cas>) -> wasmtime::Result<()> {
        self.cases.remove(&rep.rep());
        Ok(())
    }
}

impl wasi_atomics::Host for SpinState {
    async fn increment(
        &mut self,
        bucket: Resource<wasi_kv::Bucket>,
        key: String,
        delta: i64,
    ) -> Result<i64, wasi_kv::Error> {
        crate::trace::event(|| format!("kv increment {key}"));
        self.bucket(bucket.rep())?
            .increment(key, delta)
            .await
            .map_err(to_wasi)
    }

    /// Spin keeps the consumed handle in its table, and on a conflict offers a new CAS whose
    /// `current` it has already called (so it watches the key again).
    async fn swap(
        &mut self,
        this: Resource<wasi_atomics::Cas>,
        value: Vec<u8>,
    ) -> Result<(), wasi_atomics::CasError> {
        let cas = self.cases.get(&this.rep()).cloned().ok_or_else(|| {
            wasi_atomics::CasError::StoreError(wasi_kv::Error::Other(
                "compare and swap not found".into(),
            ))
        })?;
        match cas.swap(value).await {
            Ok(()) => Ok(()),
            Err(SwapError::Other(m)) => {
                Err(wasi_atomics::CasError::StoreError(wasi_kv::Error::Other(m)))
            }
            Err(SwapError::CasFailed) => {
                let again = cas
                    .store()
                    .new_cas(cas.key().to_string())
                    .await
                    .map_err(|e| wasi_atomics::CasError::StoreError(to_wasi(e)))?;
                again
                    .current()
                    .await
                    .map_err(|e| wasi_atomics::CasError::StoreError(to_wasi(e)))?;
                let handle = self
                    .add_cas(again)
                    .map_err(wasi_atomics::CasError::StoreError)?;
                Err(wasi_atomics::CasError::CasFailed(handle))
            }
        }
    }
}

// ---- spin:variables ----

impl vars::Host for SpinState {}

impl<T> vars::HostWithStore<T> for SpinApis {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, vars::Error> {
        crate::trace::event(|| format!("variable {name}"));
        if crate::manifest::validate_variable_name(&name).is_err() {
            return Err(vars::Error::InvalidName(name));
        }
        let grants = accessor.with(|mut access| access.get().grants.clone());
        let template = grants.variables.get(&name).ok_or_else(|| {
            vars::Error::Undefined(format!("no variable for {:?}.{name:?}", grants.id))
        })?;
        grants
            .resolver
            .expand(template)
            .map_err(|e| vars::Error::Provider(format!("{e:#}")))
    }
}

// ---- wasi:config/store ----

/// As Spin's (factor-variables): the component's own variables, each resolved now; a name it
/// does not declare, or not a valid name, is none.
impl wasi_config::Host for SpinState {
    async fn get(&mut self, key: String) -> Result<Option<String>, wasi_config::Error> {
        crate::trace::event(|| format!("wasi:config get {key}"));
        let Some(template) = self.grants.variables.get(&key) else {
            return Ok(None);
        };
        config_value(&self.grants, template).map(Some)
    }

    async fn get_all(&mut self) -> Result<Vec<(String, String)>, wasi_config::Error> {
        crate::trace::event(|| "wasi:config get-all".into());
        let grants = &self.grants;
        grants
            .variables
            .iter()
            .map(|(name, template)| Ok((name.clone(), config_value(grants, template)?)))
            .collect()
    }
}

/// A variable's template resolved now; a provider's failure as `wasi:config` reports one.
fn config_value(grants: &ComponentGrants, template: &str) -> Result<String, wasi_config::Error> {
    grants
        .resolver
        .expand(template)
        .map_err(|e| wasi_config::Error::Upstream(format!("{e:#}")))
}
