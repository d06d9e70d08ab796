//! The auth component: accounts, tokens, sessions, API keys, roles, admin and usage
//! (`/api/auth/...`, `/api/admin/...`, `/api/usage`). Routes live one per file in `routes/`.

mod admin;
mod audit;
mod keys;
mod limits;
mod quotas;
mod routes;
mod security;
mod sessions;
mod settings;
mod usage_report;
mod users;

use axum::routing::{delete, get, patch, post};
use chat_core::policy::Policy;
use chat_core::ratelimit::Class;
use chat_core::spin::{Routes, serve};
use routes::*;
use spin_sdk::http::{IntoResponse, Request};

#[spin_sdk::http_service]
async fn handle(req: Request) -> impl IntoResponse {
    serve(req, "auth", router).await
}

const AUTH: Policy = Policy::new("auth");
/// Handing out credentials: the `auth` rate limit, per client IP.
const CREDENTIALS: Policy = AUTH.limited_as(Class::Auth);
const ADMIN: Policy = Policy::new("admin");

fn router() -> Routes {
    Routes::new()
        .route("/api/auth/register", CREDENTIALS, post(register::post))
        .route(
            "/api/auth/login",
            CREDENTIALS.counting_outcomes(chat_core::metrics::LOGINS),
            post(login::post),
        )
        .route("/api/auth/refresh", CREDENTIALS, post(refresh::post))
        .route("/api/auth/logout", AUTH, post(logout::post))
        .route(
            "/api/auth/me",
            AUTH,
            get(me_get::get).patch(me_update::patch),
        )
        .route("/api/auth/password", AUTH, post(password::post))
        .route("/api/auth/sessions", AUTH, get(sessions_list::get))
        .route(
            "/api/auth/sessions/{id}",
            AUTH,
            delete(session_revoke::delete),
        )
        .route(
            "/api/auth/keys",
            AUTH,
            post(keys_create::post).get(keys_list::get),
        )
        .route("/api/auth/keys/{id}", AUTH, delete(key_revoke::delete))
        .route("/api/auth/keys/{id}/rotate", AUTH, post(key_rotate::post))
        .route("/api/admin/users", ADMIN, get(admin_users_list::get))
        .route(
            "/api/admin/users/{id}",
            ADMIN,
            patch(admin_user_update::patch).delete(admin_user_delete::delete),
        )
        .route("/api/admin/usage", ADMIN, get(admin_usage_get::get))
        .route("/api/usage", AUTH, get(usage_get::get))
}
