//! axum extractors that answer in the contract's terms: [`ApiJson`] for bodies, [`ApiQuery`]
//! for query strings, [`ApiPath`] and [`IdPath`] for path parameters, [`RequestContext`] for
//! the request id and config.

use crate::config::Config;
use crate::error::{Error, ErrorCode};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// Set by [`crate::spin::serve`] on every request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub config: Arc<Config>,
    pub component: &'static str,
    /// The client's address: `spin-client-addr` without the port, or the forwarded client
    /// behind a trusted proxy (see `client_addr`).
    pub client_ip: Option<String>,
    /// `spin-full-url`, for links the app hands out.
    pub full_url: Option<String>,
    /// The rate limit's count, when the pipeline left it to the handler (asking the model).
    pub rate_limit: Option<super::ratelimit::Pending>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or_else(|| Error::internal("request context missing"))
    }
}

/// A JSON body in, or a JSON response out.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let (content_type, bytes) = read(req, state).await?;
        crate::json::parse_body(content_type.as_deref(), &bytes).map(ApiJson)
    }
}

/// A request's content type and body (already read, and its size checked, by admission).
async fn read<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(Option<String>, bytes::Bytes), Error> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = bytes::Bytes::from_request(req, state)
        .await
        .map_err(|e| Error::internal("reading body").because(e))?;
    Ok((content_type, bytes))
}

/// `Option<ApiJson<T>>`: an empty body is `None` (for routes whose body is all optional, so
/// `curl -X POST` works); a non-empty one must be valid JSON of `T`.
impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Error> {
        let (content_type, bytes) = read(req, state).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        crate::json::parse_body(content_type.as_deref(), &bytes).map(|v| Some(ApiJson(v)))
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => {
                let mut r = Response::new(axum::body::Body::from(body));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r
            }
            Err(e) => Error::internal("serializing response")
                .because(e)
                .into_response(),
        }
    }
}

/// A query string, with errors as `VALIDATION_ERROR` naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        crate::json::parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// Path parameters. One that axum cannot decode (not UTF-8 after percent-decoding) names
/// nothing: `404 NOT_FOUND` in the envelope, not axum's plain-text 400.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

fn nothing_here() -> Error {
    Error::new(ErrorCode::NotFound, "Nothing was found at this path.")
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| nothing_here().with_cause(e.body_text()))
    }
}

/// The one path parameter of a route, an id or token the app handed out. Anything that cannot
/// be one (see [`crate::ids::could_be_id`]) is `404 NOT_FOUND` before any lookup.
#[derive(Debug, Clone)]
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let ApiPath(id) = ApiPath::<String>::from_request_parts(parts, state).await?;
        if crate::ids::could_be_id(&id) {
            Ok(IdPath(id))
        } else {
            Err(nothing_here())
        }
    }
}

/// Typed ids from the route's one path parameter; `404 NOT_FOUND` ("<what> not found.") for
/// anything that cannot be one, before any lookup.
macro_rules! path_ids {
    ($($ty:ty),*) => {$(
        impl<S: Send + Sync> FromRequestParts<S> for $ty {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
                let ApiPath(raw) = ApiPath::<String>::from_request_parts(parts, state).await?;
                <$ty>::parse(&raw).ok_or_else(|| Error::not_found(<$ty>::WHAT))
            }
        }
    )*};
}

path_ids!(
    crate::ids::ConversationId,
    crate::ids::UserId,
    crate::ids::KeyId,
    crate::ids::SessionId
);

/// The response for an [`Error`]: status and headers now; the envelope body is written by
/// `serve`, which knows the request id and logs the internal cause.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = self.status();
        for (name, value) in self.headers() {
            if let Ok(v) = HeaderValue::from_str(value) {
                r.headers_mut().append(name.clone(), v);
            }
        }
        r.extensions_mut().insert(Arc::new(self));
        r
    }
}
