//! The conversations component: conversations, their messages, search, export/import and
//! share links (`/api/conversations/...`, `/api/shared/...`). Routes live one per file in
//! `routes/`.

mod fields;
mod listing;
mod routes;
mod search;
mod shares;

use axum::Router;
use axum::routing::{get, post};
use chat_core::spin::serve::{not_found, serve};
use routes::*;
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "conversations", router).await
}

fn router() -> Router {
    Router::new()
        .route("/api/conversations", post(create::post).get(list::get))
        .route("/api/conversations/export", get(export_all::get))
        .route("/api/conversations/import", post(import::post))
        .route(
            "/api/conversations/{id}",
            get(get_one::get)
                .patch(update::patch)
                .delete(delete::delete),
        )
        .route("/api/conversations/{id}/messages", get(messages::get))
        .route("/api/conversations/{id}/export", get(export_one::get))
        .route(
            "/api/conversations/{id}/share",
            post(share_create::post).delete(share_revoke::delete),
        )
        .route("/api/shared/{token}", get(shared_get::get))
        .fallback(not_found)
}
