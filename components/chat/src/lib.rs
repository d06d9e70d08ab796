//! The chat component: answers from Ollama, streamed and stored (`/api/chat/...`), and the
//! models Ollama has (`/api/models/...`). Routes live one per file in `routes/`. It is the
//! only component allowed to reach Ollama for chat.

mod exchange;
mod generation;
mod models;
mod routes;
mod settings;
mod stored;
mod upstream;

use axum::Router;
use axum::routing::{get, post};
use chat_core::spin::serve::{not_found, serve};
use routes::*;
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "chat", router).await
}

fn router() -> Router {
    Router::new()
        .route("/api/chat/{id}/messages", post(message_send::post))
        .route("/api/chat/{id}/regenerate", post(regenerate::post))
        .route("/api/chat/{id}/stop", post(stop::post))
        .route("/api/models", get(models_list::get))
        .route("/api/models/pull", post(model_pull::post))
        // Names may hold slashes (`hf.co/org/repo:tag`).
        .route(
            "/api/models/{*name}",
            get(model_get::get).delete(model_delete::delete),
        )
        .fallback(not_found)
}
