//! Route matching as Spin does it (crate `spin-routes`, built on `routefinder`): exact paths,
//! `:name` segments and a trailing `/...` wildcard; the most specific match wins; a later
//! duplicate of the same route replaces the earlier one.

use anyhow::{Result, anyhow};
use std::collections::HashMap;

#[derive(Debug, Clone)]
struct Handler {
    component: String,
    raw_route: String,
}

#[derive(Debug)]
pub struct Router {
    inner: routefinder::Router<Handler>,
}

/// What a request path matched, with what Spin derives from it for the `spin-*` headers.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    pub component: String,
    pub raw_route: String,
    /// The part of the path matched by a trailing wildcard (`spin-path-info`).
    pub path_info: String,
    pub named: HashMap<String, String>,
}

impl RouteMatch {
    /// `spin-component-route`: the raw route without its `/...` suffix.
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

impl Router {
    pub fn build<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        // Spin keeps the last component for a duplicated route (IndexMap insert semantics).
        let mut unique: Vec<(String, String)> = Vec::new();
        for (route, component) in routes {
            if let Some(existing) = unique.iter_mut().find(|(r, _)| r == route) {
                existing.1 = component.to_string();
            } else {
                unique.push((route.to_string(), component.to_string()));
            }
        }
        let mut inner = routefinder::Router::new();
        for (raw_route, component) in unique {
            let based = sanitize(&raw_route);
            let spec = match based.strip_suffix("/...") {
                Some(prefix) => format!("{prefix}/*"),
                None => based.clone(),
            };
            inner
                .add(
                    spec.as_str(),
                    Handler {
                        component,
                        raw_route,
                    },
                )
                .map_err(|e| anyhow!("bad route {based:?}: {e}"))?;
        }
        Ok(Self { inner })
    }

    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let m = self.inner.best_match(path)?;
        let handler = m.handler();
        let captures = m.captures();
        let path_info = match captures.wildcard() {
            Some(s) => match (s.is_empty(), path.ends_with('/')) {
                (true, false) => s.to_string(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{s}"),
                (false, true) => format!("/{s}/"),
            },
            None => String::new(),
        };
        let named = captures
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(RouteMatch {
            component: handler.component.clone(),
            raw_route: handler.raw_route.clone(),
            path_info,
            named,
        })
    }
}

/// Spin joins the route to the base path `/` and trims a trailing slash.
fn sanitize(route: &str) -> String {
    let trimmed = route.trim_start_matches('/').trim_end_matches('/');
    format!("/{trimmed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> Router {
        Router::build([
            ("/...", "catchall"),
            ("/api/auth/...", "auth"),
            ("/api/chat/:id/messages", "chat"),
            ("/health", "health"),
            ("/health/...", "health"),
        ])
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn component(path: &str) -> Option<String> {
        router().route(path).map(|m| m.component)
    }

    #[test]
    fn most_specific_route_wins() {
        assert_eq!(component("/api/auth/login").as_deref(), Some("auth"));
        assert_eq!(component("/api/auth").as_deref(), Some("auth"));
        assert_eq!(component("/health").as_deref(), Some("health"));
        assert_eq!(component("/health/ready").as_deref(), Some("health"));
        assert_eq!(component("/nope").as_deref(), Some("catchall"));
        assert_eq!(component("/api/chat/x/messages").as_deref(), Some("chat"));
    }

    #[test]
    fn wildcard_and_named_segments_are_reported() {
        let r = router();
        let m = r
            .route("/api/auth/keys/1")
            .unwrap_or_else(|| panic!("no match"));
        assert_eq!(m.path_info, "/keys/1");
        assert_eq!(m.raw_route_or_prefix(), "/api/auth");
        let m = r
            .route("/api/chat/abc/messages")
            .unwrap_or_else(|| panic!("no match"));
        assert_eq!(m.named.get("id").map(String::as_str), Some("abc"));
        assert_eq!(m.path_info, "");
    }
}
