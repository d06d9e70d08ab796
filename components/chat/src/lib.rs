//! The chat component: answers from Ollama, streamed and stored (`/api/chat/...`), and the
//! models Ollama has (`/api/models/...`). Routes live one per file in `routes/`. It is the
//! only component allowed to reach Ollama for chat.

mod exchange;
mod finish;
mod models;
mod plan;
mod relay;
mod routes;
mod settings;
mod sink;
mod stored;
mod title;
mod upstream;

use axum::routing::{get, post};
use chat_core::policy::Policy;
use chat_core::ratelimit::Class;
use chat_core::spin::{Routes, serve};
use routes::*;
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "chat", router).await
}

/// Asking the model: the `chat` rate limit.
const ASK: Policy = Policy::new("chat").limited_as(Class::Chat);
const MODELS: Policy = Policy::new("models");

fn router() -> Routes {
    Routes::new()
        .route("/api/chat/{id}/messages", ASK, post(message_send::post))
        .route("/api/chat/{id}/regenerate", ASK, post(regenerate::post))
        .route("/api/chat/{id}/stop", Policy::new("chat"), post(stop::post))
        .route("/api/models", MODELS, get(models_list::get))
        .route("/api/models/pull", MODELS, post(model_pull::post))
        // Names may hold slashes (`hf.co/org/repo:tag`).
        .route(
            "/api/models/{*name}",
            MODELS,
            get(model_get::get).delete(model_delete::delete),
        )
}
