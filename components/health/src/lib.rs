//! The health component: `/health`, `/health/ready`, `/info`, `/metrics`, `/openapi.json`,
//! and the catch-all route that answers every unknown path with the contract's 404.

mod health;
mod info;
mod metrics;
mod openapi;
mod ready;

use axum::{Router, routing::get};
use chat_core::spin::serve::{not_found, serve};
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "health", routes).await
}

fn routes() -> Router {
    Router::new()
        .route("/health", get(health::get))
        .route("/health/ready", get(ready::get))
        .route("/info", get(info::get))
        .route("/metrics", get(metrics::get))
        .route("/openapi.json", get(openapi::get))
        .fallback(not_found)
}
