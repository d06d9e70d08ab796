//! The storage layer's SQL: every statement the app runs against its tables lives here, named,
//! one module per table or topic, with the column lists rows are read by (by name, so a new
//! column cannot shift another). Nothing here runs a statement: the Spin adapter
//! (`chat_core::spin::Db`) does, and the code that owns a table's life calls it with these.
//!
//! Each module lists its statements in `STATEMENTS` (fixed ones) and `built()` (those made
//! from parts, in each shape the app makes them). `tests/statements.rs` prepares every one
//! against the schema `migrations/` builds, on the host: a statement naming a column or table
//! that is not there, or a `UNION` whose parts do not line up, fails there, not at run time.
//!
//! Parameters are positional (`?1`, `?2`: Spin binds a list); each statement's comment says
//! what they are, in order.

pub mod audit;
pub mod connection;
pub mod conversations;
pub mod generations;
pub mod keys;
pub mod messages;
pub mod meta;
pub mod metrics;
pub mod quotas;
pub mod rate_limits;
pub mod schema;
pub mod servers;
pub mod sessions;
pub mod usage;
pub mod users;

/// Declares a module's fixed statements as constants and lists them in `STATEMENTS`.
macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $sql:expr;)*) => {
        $($(#[$doc])* pub const $name: &str = $sql;)*
        /// Every fixed statement of this module, by name (for the schema test).
        pub const STATEMENTS: &[(&str, &str)] = &[$((stringify!($name), $name)),*];
    };
}
pub(crate) use statements;

/// Every statement of the app, by module and name, as it is sent: the fixed ones and each
/// shape of the built ones.
pub fn catalogue() -> Vec<(String, String)> {
    let fixed: &[(&str, &[(&str, &str)])] = &[
        ("audit", audit::STATEMENTS),
        ("connection", connection::STATEMENTS),
        ("conversations", conversations::STATEMENTS),
        ("generations", generations::STATEMENTS),
        ("keys", keys::STATEMENTS),
        ("messages", messages::STATEMENTS),
        ("meta", meta::STATEMENTS),
        ("metrics", metrics::STATEMENTS),
        ("quotas", quotas::STATEMENTS),
        ("rate_limits", rate_limits::STATEMENTS),
        ("schema", schema::STATEMENTS),
        ("servers", servers::STATEMENTS),
        ("sessions", sessions::STATEMENTS),
        ("usage", usage::STATEMENTS),
        ("users", users::STATEMENTS),
    ];
    let mut all: Vec<(String, String)> = fixed
        .iter()
        .flat_map(|(module, list)| {
            list.iter()
                .map(move |(name, sql)| (format!("{module}::{name}"), (*sql).to_string()))
        })
        .collect();
    for (module, built) in [
        ("connection", connection::built()),
        ("conversations", conversations::built()),
        ("generations", generations::built()),
        ("messages", messages::built()),
        ("usage", usage::built()),
        ("users", users::built()),
    ] {
        all.extend(
            built
                .into_iter()
                .map(|(n, s)| (format!("{module}::{n}"), s)),
        );
    }
    all
}

/// The expression for each of `columns` (a column list as this crate writes them: names
/// separated by commas), in the list's order, with its name: the one `given` names for it,
/// else `NULL`.
fn expressions<'a>(columns: &'a str, given: &[(&str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    columns
        .split(',')
        .map(str::trim)
        .map(|c| {
            let expr = given.iter().find(|(name, _)| *name == c);
            (c, expr.map_or("NULL", |(_, e)| e))
        })
        .collect()
}

/// A `SELECT` list that gives each of `columns` the expression `given` names for it, else
/// `NULL`, in the list's order: the later parts of a `UNION` line up with the first by
/// construction.
pub fn aligned(columns: &str, given: &[(&str, &str)]) -> String {
    let list: Vec<&str> = expressions(columns, given)
        .iter()
        .map(|(_, e)| *e)
        .collect();
    list.join(", ")
}

/// As [`aligned`], each expression named as its column (`expr AS name`): the first part of a
/// `UNION`, whose names the result's columns take.
pub fn aligned_named(columns: &str, given: &[(&str, &str)]) -> String {
    let list: Vec<String> = expressions(columns, given)
        .iter()
        .map(|(name, e)| format!("{e} AS {name}"))
        .collect();
    list.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{aligned, aligned_named};

    #[test]
    fn aligned_fills_every_column_not_given_with_null_in_order() {
        let list = aligned("a, b, c, d", &[("c", "x + 1"), ("a", "y")]);
        assert_eq!(list, "y, NULL, x + 1, NULL");
        let named = aligned_named("a, b", &[("b", "f(x, y)")]);
        assert_eq!(named, "NULL AS a, f(x, y) AS b");
    }
}
