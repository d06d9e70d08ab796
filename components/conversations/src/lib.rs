//! The conversations component: conversations, their messages, search, export/import and
//! share links (`/api/conversations/...`, `/api/shared/...`). Routes live one per file in
//! `routes/`.

mod export;
mod fields;
mod listing;
mod routes;
mod search;
mod search_query;
mod shares;

use axum::routing::{get, post};
use chat_core::policy::Policy;
use chat_core::spin::{Routes, serve};
use routes::*;
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "conversations", router).await
}

/// Conversations and their messages.
const CONVERSATIONS: Policy = Policy::new("conversations");

fn router() -> Routes {
    Routes::new()
        .route(
            "/api/conversations",
            CONVERSATIONS,
            post(create::post).get(list::get),
        )
        .route(
            "/api/conversations/export",
            CONVERSATIONS,
            get(export_all::get),
        )
        // Import takes a whole export, so it has its own, larger body limit.
        .route(
            "/api/conversations/import",
            CONVERSATIONS.import_body(),
            post(import::post),
        )
        .route(
            "/api/conversations/{id}",
            CONVERSATIONS,
            get(get_one::get)
                .patch(update::patch)
                .delete(delete::delete),
        )
        .route(
            "/api/conversations/{id}/messages",
            CONVERSATIONS,
            get(messages::get),
        )
        .route(
            "/api/conversations/{id}/export",
            CONVERSATIONS,
            get(export_one::get),
        )
        .route(
            "/api/conversations/{id}/share",
            CONVERSATIONS,
            post(share_create::post).delete(share_revoke::delete),
        )
        .route(
            "/api/shared/{token}",
            Policy::new("shared"),
            get(shared_get::get),
        )
}
