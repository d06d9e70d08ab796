//! Request bodies: `Content-Type: application/json` required (else 415), malformed JSON is
//! `INVALID_JSON`, and a wrong type, a missing field or an unknown field is `VALIDATION_ERROR`
//! naming the field in `details.field`. Request types use `#[serde(deny_unknown_fields)]`.

use crate::error::{Error, ErrorCode};
use serde::de::DeserializeOwned;

/// Does this `Content-Type` say JSON (`application/json`, any parameters, any case)?
pub fn is_json_content_type(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.split(';').next())
        .map(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

pub fn unsupported_media_type() -> Error {
    Error::new(
        ErrorCode::UnsupportedMediaType,
        "Send the body as JSON with Content-Type: application/json.",
    )
}

/// Parses a JSON body into `T`, mapping every failure to the contract's errors.
pub fn parse_body<T: DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, Error> {
    if !is_json_content_type(content_type) {
        return Err(unsupported_media_type());
    }
    parse_json(body)
}

/// Checks that a body is one well-formed JSON document, without building it.
pub fn check_syntax(body: &[u8]) -> Result<(), Error> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(invalid_json)
}

fn invalid_json(e: serde_json::Error) -> Error {
    Error::new(ErrorCode::InvalidJson, "The body is not valid JSON.")
        .detail("line", e.line())
        .detail("column", e.column())
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    // Syntax first, so a broken document is always INVALID_JSON whatever its shape.
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid_json)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        shape_error(&path, &e.into_inner())
    })
}

/// A field of a partial update (`PATCH`): absent (leave as is), `null` (clear) or a value.
/// Use with `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Missing,
    Null,
    Value(T),
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

fn shape_error(path: &str, e: &serde_json::Error) -> Error {
    let (field, message) = named(
        path,
        &e.to_string(),
        ("field", "The body has the wrong shape"),
    );
    Error::new(ErrorCode::ValidationError, message).detail("field", field)
}

/// The field a serde error `text` at `path` (serde_path_to_error's, `.` for the top) is
/// about, and a message for it: `noun` is what a field is called, `whole` begins the message
/// when it names none. Bodies and query strings share it: serde names an unknown, missing or
/// repeated field in backticks, and the path may stop at the object that holds it.
fn named(path: &str, text: &str, (noun, whole): (&str, &str)) -> (String, String) {
    let path = if path == "." { "" } else { path };
    let quoted = between_backticks(text).unwrap_or_default();
    if text.starts_with("unknown field") {
        // A body's path already ends at the field; a query's is the top.
        let field = if path.is_empty() { quoted } else { path };
        (field.to_string(), format!("Unknown {noun} `{field}`."))
    } else if text.starts_with("missing field") {
        let field = join_path(path, quoted);
        (field.clone(), format!("`{field}` is required."))
    } else if text.starts_with("duplicate field") {
        let field = join_path(path, quoted);
        (field.clone(), format!("`{field}` is given more than once."))
    } else if path.is_empty() {
        (String::new(), format!("{whole}: {text}."))
    } else {
        (path.to_string(), format!("`{path}` is invalid: {text}."))
    }
}

fn between_backticks(text: &str) -> Option<&str> {
    let start = text.find('`')? + 1;
    let len = text[start..].find('`')?;
    Some(&text[start..start + len])
}

fn join_path(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: Option<u32>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    fn err(body: &str) -> Error {
        match parse_body::<Body>(Some("application/json"), body.as_bytes()) {
            Ok(v) => panic!("expected an error for {body}, got {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn content_type_must_be_json() {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some(""),
        ] {
            let e = parse_body::<Body>(ct, b"{\"name\":\"a\"}").err();
            assert_eq!(
                e.map(|e| e.code()),
                Some(ErrorCode::UnsupportedMediaType),
                "{ct:?}"
            );
        }
        assert!(
            parse_body::<Body>(Some("Application/JSON; charset=utf-8"), b"{\"name\":\"a\"}")
                .is_ok()
        );
    }

    #[test]
    fn malformed_json_is_invalid_json() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        for body in [
            "",
            "{",
            "{\"name\":}",
            "nul",
            "{\"name\":\"a\"} trailing",
            "[1,]",
            &deep,
        ] {
            assert_eq!(
                err(body).code(),
                ErrorCode::InvalidJson,
                "{}",
                &body[..body.len().min(20)]
            );
            // Deep nesting is well-formed; only building it hits serde_json's depth limit.
            if body != deep {
                assert_eq!(
                    check_syntax(body.as_bytes()).err().map(|e| e.code()),
                    Some(ErrorCode::InvalidJson)
                );
            }
        }
        assert!(check_syntax(b"{\"a\": [1, {\"b\": null}]}").is_ok());
    }

    #[test]
    fn shape_errors_name_the_field() {
        let table = [
            ("{}", "name"),
            ("{\"name\":1}", "name"),
            ("{\"name\":\"a\",\"count\":\"x\"}", "count"),
            ("{\"name\":\"a\",\"count\":-1}", "count"),
            ("{\"name\":\"a\",\"extra\":true}", "extra"),
            ("{\"name\":\"a\",\"inner\":{\"flag\":1}}", "inner.flag"),
            ("{\"name\":\"a\",\"inner\":{}}", "inner.flag"),
            (
                "{\"name\":\"a\",\"inner\":{\"flag\":true,\"x\":1}}",
                "inner.x",
            ),
        ];
        for (body, field) in table {
            let e = err(body);
            assert_eq!(e.code(), ErrorCode::ValidationError, "{body}");
            assert_eq!(
                e.details().get("field").and_then(|f| f.as_str()),
                Some(field),
                "{body}"
            );
        }
        assert_eq!(err("[]").code(), ErrorCode::ValidationError);
    }
}

/// A query string's decoded parameters must be UTF-8 text without control characters (the
/// form decoder would otherwise replace bad bytes silently).
pub fn check_query(query: &str) -> Result<(), Error> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = percent_decode(value);
        let ok = std::str::from_utf8(&decoded).is_ok_and(|v| !v.chars().any(char::is_control));
        if !ok {
            let field = String::from_utf8_lossy(&percent_decode(name)).into_owned();
            return Err(Error::validation(
                field,
                "Query parameters are UTF-8 text without control characters.",
            ));
        }
    }
    Ok(())
}

/// Parses a query string into `T` (checked with [`check_query`] first). A value of the wrong
/// type, an unknown, repeated or missing parameter is `VALIDATION_ERROR` naming the parameter
/// in `details.field` (`?limit=abc` named none before: serde's message for a bad number does
/// not say which).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    check_query(query)?;
    let params = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let text = e.into_inner().to_string();
        let (field, message) = named(&path, &text, ("query parameter", "Invalid query string"));
        Error::new(ErrorCode::ValidationError, message).detail("field", field)
    })
}

/// A query component's bytes, `%XX` decoded (a `+` stays one: as a space it is text all the same).
fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn query_values_must_be_text() {
        for ok in ["", "q=caf%C3%A9", "q=a+b&limit=5", "tag=%25", "q=%"] {
            assert!(check_query(ok).is_ok(), "{ok}");
        }
        for (bad, field) in [("q=%FF", "q"), ("q=a%00b", "q"), ("limit=1&tag=%1B", "tag")] {
            let e = check_query(bad)
                .err()
                .map(|e| e.details().get("field").cloned());
            assert_eq!(e, Some(Some(field.into())), "{bad}");
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Query {
        limit: Option<u32>,
        archived: Option<bool>,
        q: Option<String>,
    }

    #[test]
    fn a_bad_parameter_is_named() {
        let parsed: Query =
            parse_query("limit=5&q=caf%C3%A9+bar").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (parsed.limit, parsed.q.as_deref()),
            (Some(5), Some("café bar"))
        );
        for (bad, field) in [
            ("limit=abc", "limit"),
            ("limit=-1", "limit"),
            ("q=x&archived=maybe", "archived"),
            ("limit=1&limit=2", "limit"),
            ("bogus=1", "bogus"),
            ("q=%FF", "q"),
            ("limit=5&q=a&q=b", "q"),
        ] {
            let e = parse_query::<Query>(bad).err();
            let named = e
                .as_ref()
                .map(|e| (e.code(), e.details().get("field").cloned()));
            assert_eq!(
                named,
                Some((ErrorCode::ValidationError, Some(field.into()))),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn messages_say_what_is_wrong_with_the_parameter() {
        for (bad, message) in [
            ("bogus=1", "Unknown query parameter `bogus`."),
            ("limit=1&limit=2", "`limit` is given more than once."),
            (
                "limit=abc",
                "`limit` is invalid: invalid digit found in string.",
            ),
        ] {
            let e = parse_query::<Query>(bad).err();
            assert_eq!(e.as_ref().map(Error::message), Some(message), "{bad}");
        }
    }
}
