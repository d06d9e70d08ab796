//! The chat component: /api/chat/... and /api/models/....
//! Its routes are filled in by its own issue; until then every path answers the contract's 404.

use axum::Router;
use chat_core::spin::serve::{not_found, serve};
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "chat", routes()).await
}

fn routes() -> Router {
    Router::new().fallback(not_found)
}
