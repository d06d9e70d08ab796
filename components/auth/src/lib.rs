//! The auth component: accounts, tokens, sessions, API keys, roles and admin
//! (`/api/auth/...`, `/api/admin/...`). Routes live one per file in `routes/`.

mod admin;
mod audit;
mod keys;
mod limits;
mod routes;
mod security;
mod sessions;
mod settings;
mod users;

use axum::Router;
use axum::routing::{delete, get, post};
use chat_core::spin::serve::{not_found, serve};
use routes::*;
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "auth", router).await
}

fn router() -> Router {
    Router::new()
        .route("/api/auth/register", post(register::post))
        .route("/api/auth/login", post(login::post))
        .route("/api/auth/refresh", post(refresh::post))
        .route("/api/auth/logout", post(logout::post))
        .route("/api/auth/me", get(me_get::get).patch(me_update::patch))
        .route("/api/auth/password", post(password::post))
        .route("/api/auth/sessions", get(sessions_list::get))
        .route("/api/auth/sessions/{id}", delete(session_revoke::delete))
        .route(
            "/api/auth/keys",
            post(keys_create::post).get(keys_list::get),
        )
        .route("/api/auth/keys/{id}", delete(key_revoke::delete))
        .route("/api/auth/keys/{id}/rotate", post(key_rotate::post))
        .route("/api/admin/users", get(admin_users_list::get))
        .route(
            "/api/admin/users/{id}",
            axum::routing::patch(admin_user_update::patch).delete(admin_user_delete::delete),
        )
        .fallback(not_found)
}
