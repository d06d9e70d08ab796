//! The chat component: answers from Ollama, streamed and stored (`/api/chat/...`), the models
//! Ollama has (`/api/models/...`), and OpenAI's API in front of both (`/v1/...`). Routes live
//! one per file in `routes/`. It is the only component allowed to reach Ollama.

mod completion;
mod context;
mod exchange;
mod finish;
mod generations;
mod models;
mod openai;
mod plan;
mod relay;
mod routes;
mod servers;
mod settings;
mod sink;
mod stored;
mod tags;
mod title;
mod upstream;

use axum::routing::{any, get, post};
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
/// OpenAI's API: its errors in OpenAI's shape; completions under the `chat` rate limit.
const V1: Policy = Policy::new("openai").openai_errors();
const V1_ASK: Policy = V1.limited_as(Class::Chat);

fn router() -> Routes {
    Routes::new()
        .route("/api/chat/{id}/messages", ASK, post(message_send::post))
        .route("/api/chat/{id}/regenerate", ASK, post(regenerate::post))
        .route("/api/chat/{id}/stop", Policy::new("chat"), post(stop::post))
        .route("/api/models", MODELS, get(models_list::get))
        .route("/api/admin/ollama", MODELS, get(admin_ollama::get))
        .route("/api/models/pull", MODELS, post(model_pull::post))
        // Names may hold slashes (`hf.co/org/repo:tag`).
        .route(
            "/api/models/{*name}",
            MODELS,
            get(model_get::get).delete(model_delete::delete),
        )
        .route("/v1/models", V1, get(v1_models::list))
        .route("/v1/models/{*model}", V1, get(v1_models::get))
        .route("/v1/chat/completions", V1_ASK, post(v1_chat::post))
        .route("/v1/embeddings", V1, post(v1_embeddings::post))
        // Unknown paths under /v1 answer 404 in OpenAI's shape too.
        .route("/v1/{*rest}", V1, any(v1_unknown))
}

async fn v1_unknown() -> chat_core::Error {
    chat_core::ErrorCode::NotFound.into()
}
