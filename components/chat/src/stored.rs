//! Storing a generation's question and placeholder answer, on its own task: the first
//! events need not wait for the commit, and nothing of the answer is written before it ends.

use crate::generations;
use crate::plan::Prepared;
use crate::servers::Candidates;
use crate::settings::Settings;
use chat_core::spin::ratelimit::Pending;
use chat_core::spin::{Db, task};
use chat_core::{Error, ErrorCode};
use chat_domain::conversation::MessageView;
use chat_domain::rows::{NewMessage, insert_message};
use futures::channel::oneshot;
use std::sync::Arc;
use std::time::Duration;

/// Stores the question (unless it is an existing one) and the placeholder answer, and
/// registers the generation, counting the request against the rate limit and re-checking the
/// per-user limit. The registration picks the Ollama server among `candidates`, which it
/// returns, and sends to `picked` as soon as it is known. With one candidate all of it is one write transaction. With several, the request
/// to Ollama waits for the pick, so the registration is a statement of its own, committed
/// first: the write lock that serializes picks is then held for one statement, not for the
/// whole store (`bench --spread`: 32 answers at once over two servers took +7.1 % over one
/// answer's time with the whole store serialized, +4.3 % so; one server: +3.7 %). If the rest
/// then fails, the registration is taken back.
#[allow(clippy::too_many_arguments)]
async fn store(
    db: &Db,
    user_id: &str,
    p: &Prepared,
    settings: &Settings,
    timeout: Duration,
    rate_limit: Option<&Pending>,
    candidates: &Candidates,
    picked: oneshot::Sender<String>,
) -> Result<String, Error> {
    let cid = p.conversation.id.as_str();
    let register = async |db: &Db| {
        let (id, cid) = (p.assistant.id.as_str(), p.conversation.id.as_str());
        let max = settings.max_concurrent_generations;
        let server =
            generations::register(db, candidates, id, user_id, Some(cid), timeout, max).await?;
        let _ = picked.send(server.clone());
        Ok::<_, Error>(server)
    };
    let rest = async |db: &Db| {
        if let Some(limit) = rate_limit {
            limit.record(db).await?;
        }
        if p.new_question {
            insert_message(db, &as_new(cid, user_id, &p.user_message)).await?;
        }
        insert_message(db, &as_new(cid, user_id, &p.assistant)).await
    };
    if !candidates.several() {
        return db
            .transaction(async |db| {
                let server = register(db).await?;
                rest(db).await?;
                Ok(server)
            })
            .await;
    }
    let server = register(db).await?;
    if let Err(e) = db.transaction(rest).await {
        let _ = generations::end(db, &p.assistant.id).await;
        return Err(e);
    }
    Ok(server)
}

fn as_new<'a>(cid: &'a str, user_id: &'a str, m: &'a MessageView) -> NewMessage<'a> {
    NewMessage {
        conversation_id: cid,
        user_id,
        role: m.role,
        content: &m.content,
        thinking: None,
        model: m.model.as_deref(),
        status: m.status,
        usage: None,
        created_at: Some(&m.created_at),
        id: Some(&m.id),
    }
}

/// The store of a generation's question and placeholder, run on its own task: the first
/// events need not wait for its commit, and nothing is written for the answer before it ends.
///
/// It owns the generation's connection: the store's task takes the `Db` by value and hands it
/// back when it is done, and only then does [`Stored::connection`] give it out. A statement
/// waiting for the write lock holds its connection, and a second task using the same
/// connection would wait with it (in Spin, with the whole instance; see `Db`), so nothing
/// else may use it while the store runs: the types say so, not a comment. A new instance so
/// opens one connection per answer, not two (each reads the whole schema).
pub struct Stored {
    state: StoreState,
    /// The server the registration picked, as soon as it has (see [`Stored::picked`]).
    picked: Option<oneshot::Receiver<String>>,
    /// The connection, back from the store's task.
    db: Option<Db>,
}

type Done = (Result<String, Error>, Db);
type StoreJob = Box<dyn FnOnce() -> oneshot::Receiver<Done> + Send + Sync>;

enum StoreState {
    NotStarted(StoreJob),
    Pending(oneshot::Receiver<Done>),
    /// Stored, and the server the generation was registered on.
    Stored(String),
    /// Failed, and the failure was handed out.
    Failed,
}

impl Stored {
    /// A store to start with [`Stored::start`] (or on first wait), on `db`, the generation's
    /// connection, which it gives back once done ([`Stored::connection`]).
    pub fn new(
        db: Db,
        user_id: String,
        p: Arc<Prepared>,
        settings: Arc<Settings>,
        timeout: Duration,
        rate_limit: Option<Pending>,
        candidates: Candidates,
    ) -> Self {
        let (picked_tx, picked_rx) = oneshot::channel();
        let job: StoreJob = Box::new(move || {
            let (tx, rx) = oneshot::channel();
            spin_sdk::wasip3::spawn(async move {
                let limit = rate_limit.as_ref();
                let (s, c) = (&settings, &candidates);
                let stored = store(&db, &user_id, &p, s, timeout, limit, c, picked_tx)
                    .await
                    .map_err(|e| match e.code() {
                        // Said to the client (as a status or as `event: error`).
                        ErrorCode::Internal => Error::new(
                            ErrorCode::Internal,
                            "Your message could not be saved. Try again.",
                        )
                        .with_causes_of(&e),
                        _ => e,
                    });
                let _ = tx.send((stored, db));
            });
            rx
        });
        Self {
            state: StoreState::NotStarted(job),
            picked: Some(picked_rx),
            db: None,
        }
    }

    /// The generation's connection, once the store is done with it (after [`Stored::wait`]
    /// returns or [`Stored::check`] says `true`); an internal error before.
    pub fn connection(&self) -> Result<&Db, Error> {
        self.db
            .as_ref()
            .ok_or_else(|| Error::internal("the question's store still has the connection"))
    }

    /// The server the generation was registered on, once the registration has picked it
    /// (before the rest of the store commits); or the store's failure.
    pub async fn picked(&mut self) -> Result<String, Error> {
        if let Some(rx) = self.picked.take() {
            if matches!(self.state, StoreState::NotStarted(_)) {
                self.start();
                task::yield_now().await;
            }
            if let Ok(server) = rx.await {
                return Ok(server);
            }
        }
        // Failed before picking (the sender is gone), or asked again: the store's own word.
        self.wait().await
    }

    /// Starts storing on its own task, so it goes on while the caller waits for Ollama.
    pub fn start(&mut self) {
        if matches!(self.state, StoreState::NotStarted(_)) {
            let StoreState::NotStarted(job) =
                std::mem::replace(&mut self.state, StoreState::Failed)
            else {
                return;
            };
            self.state = StoreState::Pending(job());
        }
    }

    /// Waits until stored; the server the generation was registered on. The failure is
    /// returned once; later calls say only that it failed.
    pub async fn wait(&mut self) -> Result<String, Error> {
        if matches!(self.state, StoreState::NotStarted(_)) {
            self.start();
            task::yield_now().await;
        }
        let got = match &mut self.state {
            StoreState::Pending(rx) => rx.await.ok(),
            _ => None,
        };
        self.settle(got)
    }

    /// Resolves only if storing fails (with its failure).
    pub async fn failure(&mut self) -> Error {
        match self.wait().await {
            Err(e) => e,
            Ok(_) => std::future::pending().await,
        }
    }

    /// Without waiting: stored (`true`), still storing (`false`), or the failure (once).
    pub fn check(&mut self) -> Result<bool, Error> {
        self.start();
        let got = match &mut self.state {
            StoreState::Pending(rx) => match rx.try_recv() {
                Ok(None) => return Ok(false),
                Ok(Some(r)) => Some(r),
                Err(_) => None,
            },
            _ => None,
        };
        self.settle(got).map(|_| true)
    }

    /// Records what the store task sent (`None`: nothing, because it ended or was never
    /// pending), takes the connection back, and says how storing went.
    fn settle(&mut self, got: Option<Done>) -> Result<String, Error> {
        let got = got.map(|(result, db)| {
            self.db = Some(db);
            result
        });
        let result = match (&self.state, got) {
            (StoreState::Stored(server), _) => Ok(server.clone()),
            (StoreState::Pending(_), Some(r)) => r,
            (StoreState::Pending(_), None) => Err(Error::internal("the store task ended")),
            _ => Err(Error::internal("storing the question failed")),
        };
        self.state = match &result {
            Ok(server) => StoreState::Stored(server.clone()),
            Err(_) => StoreState::Failed,
        };
        result
    }
}
