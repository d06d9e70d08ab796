//! A component's routes, each declared with its [`Policy`]: one axum router in which every
//! route, its wrong-method answer and the component's fallback are first admitted under their
//! policy (`admit`).

use super::admit::admit;
use crate::error::{Error, ErrorCode};
use crate::policy::Policy;
use axum::Router;
use axum::extract::MatchedPath;
use axum::handler::Handler;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::MethodRouter;
use std::sync::Arc;

/// The route pattern a request matched (`/api/conversations/{id}`), copied from axum's
/// [`MatchedPath`] onto the response for the log line.
#[derive(Clone)]
pub(super) struct MatchedRoute(pub Arc<str>);

/// A component's routes under construction.
#[derive(Default)]
pub struct Routes {
    router: Router,
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `path` with `methods`, admitted under `policy` (a wrong method too: its `405`
    /// counts as the route's).
    pub fn route(mut self, path: &str, policy: Policy, methods: MethodRouter) -> Self {
        self.router = self
            .router
            .route(path, methods.layer(from_fn_with_state(policy, admit)));
        self
    }

    /// The router `serve` calls; unknown paths get the contract's 404 under
    /// [`Policy::FALLBACK`].
    pub(super) fn into_router(self) -> Router {
        self.router
            .route_layer(from_fn(remember_route))
            .fallback(not_found.layer(from_fn_with_state(Policy::FALLBACK, admit)))
    }
}

async fn remember_route(
    matched: Option<MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(req).await;
    if let Some(m) = matched {
        response
            .extensions_mut()
            .insert(MatchedRoute(Arc::from(m.as_str())));
    }
    response
}

/// The answer to an unknown path.
async fn not_found() -> Error {
    Error::from(ErrorCode::NotFound)
}
