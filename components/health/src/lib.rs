//! The health component: `/health`, `/health/ready`, `/info`, `/metrics`, `/openapi.json`,
//! and the catch-all route that answers every unknown path with the contract's 404.

mod health;
mod info;
mod metrics;
mod openapi;
mod ready;

use axum::routing::get;
use chat_core::policy::Policy;
use chat_core::spin::{Routes, serve};
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "health", routes).await
}

/// Probes: never rate limited.
const PROBE: Policy = Policy::new("health").unlimited();
/// What touches no store.
const STATIC: Policy = Policy::new("health").without_database();

fn routes() -> Routes {
    Routes::new()
        .route("/health", PROBE.without_database(), get(health::get))
        .route("/health/ready", PROBE, get(ready::get))
        .route("/info", STATIC, get(info::get))
        .route("/metrics", Policy::new("metrics"), get(metrics::get))
        .route("/openapi.json", STATIC, get(openapi::get))
}
