//! `GET /{none,upsert,increment}?key=K`: the probe `bench --kv-count` serves (not part of the
//! app). Each request counts once under `K`, in one way per route, and answers the count:
//! - `none`: nothing counted, the baseline;
//! - `upsert`: the app's rate-limit count, its upsert on the database
//!   (`chat_core::spin::ratelimit::count`, with the app's schema);
//! - `increment`: `wasi:keyvalue/atomics.increment` on the default key-value store, under
//!   `K` and the window's number (the store has no expiry, so windows are keys);
//! - `cas`: one compare-and-swap adding 1 to `K` (decimal text), answering what the swap
//!   reported and what the key then holds (`swapped 3`, `cas-failed 3`), for the tests that
//!   check the host's compare-and-swap against Spin's.

use chat_core::spin::Db;
use spin_sdk::experimental::wasi::keyvalue::{atomics, store};
use spin_sdk::http::{IntoResponse, Request};

const WINDOW: u32 = 60;

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let path = req.uri().path().to_string();
    let key = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("key="))
        .unwrap_or("probe")
        .to_string();
    let now = chat_core::spin::auth::now_unix();
    let counted = match path.as_str() {
        "/none" => Ok(0),
        "/upsert" => upsert(&key, now).await,
        "/increment" => increment(&key, now),
        "/cas" => return cas(&key),
        _ => return answer(http::StatusCode::NOT_FOUND, "no such probe".into()),
    };
    match counted {
        Ok(n) => answer(http::StatusCode::OK, n.to_string()),
        Err(e) => answer(http::StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// With its length, so that the host writes the answer at once (chunked, its end would
/// leave in a write of its own, held back by Nagle until the client's delayed ACK).
fn answer(status: http::StatusCode, body: String) -> http::Response<String> {
    let length = http::HeaderValue::from(body.len());
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_LENGTH, length);
    r
}

async fn upsert(key: &str, now: i64) -> Result<i64, String> {
    let db = Db::open().await.map_err(|e| format!("{e:?}"))?;
    let quota = chat_core::spin::ratelimit::count(&db, key, u32::MAX, WINDOW, now)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(quota.used)
}

thread_local! {
    /// The store, opened once per instance (as the app's `Kv`).
    static BUCKET: std::cell::OnceCell<Result<store::Bucket, String>> =
        const { std::cell::OnceCell::new() };
}

fn with_bucket<T>(f: impl FnOnce(&store::Bucket) -> Result<T, String>) -> Result<T, String> {
    BUCKET.with(|b| {
        let bucket = b
            .get_or_init(|| store::open("default").map_err(|e| format!("{e:?}")))
            .as_ref()
            .map_err(Clone::clone)?;
        f(bucket)
    })
}

fn increment(key: &str, now: i64) -> Result<i64, String> {
    let window = now / i64::from(WINDOW);
    with_bucket(|bucket| {
        atomics::increment(bucket, &format!("rl:{key}:{window}"), 1).map_err(|e| format!("{e:?}"))
    })
}

fn cas(key: &str) -> http::Response<String> {
    let done = with_bucket(|bucket| {
        let text =
            |v: Option<Vec<u8>>| String::from_utf8_lossy(&v.unwrap_or_default()).into_owned();
        let cas = atomics::Cas::new(bucket, key).map_err(|e| format!("{e:?}"))?;
        let seen = text(cas.current().map_err(|e| format!("{e:?}"))?);
        let next = seen.parse::<i64>().unwrap_or(0) + 1;
        let reported = match atomics::swap(cas, next.to_string().as_bytes()) {
            Ok(()) => "swapped".to_string(),
            Err(atomics::CasError::CasFailed(_)) => "cas-failed".to_string(),
            Err(atomics::CasError::StoreError(e)) => format!("store-error {e:?}"),
        };
        let now = text(bucket.get(key).map_err(|e| format!("{e:?}"))?);
        Ok(format!("{reported} {now}"))
    });
    match done {
        Ok(body) => answer(http::StatusCode::OK, body),
        Err(e) => answer(http::StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
