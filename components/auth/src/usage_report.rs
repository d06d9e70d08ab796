//! Usage reports from `usage` (one row per user, day, key and model: a report reads rows,
//! never messages), grouped as asked, with totals.

use chat_core::Error;
use chat_core::spin::{Db, Value};
use chat_core::usage::{Days, GroupBy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

/// `?from&to&group_by`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

impl Query {
    /// The days and grouping asked for, `allowed` naming the groupings (the first by default).
    pub fn parse(&self, allowed: &[GroupBy]) -> Result<(Days, GroupBy), Error> {
        let now = chat_core::time::now_rfc3339();
        let today = chat_core::usage::day_of(&now);
        let days = Days::parse(self.from.as_deref(), self.to.as_deref(), today)?;
        Ok((days, GroupBy::parse(self.group_by.as_deref(), allowed)?))
    }
}

#[derive(Debug, Default, Serialize, Clone, Copy)]
pub struct Totals {
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

struct Row {
    k: String,
    username: Option<String>,
    requests: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
}

chat_core::from_columns!(Row {
    k,
    username,
    requests,
    prompt_tokens,
    completion_tokens
});

/// The report's items and totals, for one user or (`user_id` `None`) everyone.
pub async fn report(
    db: &Db,
    user_id: Option<&str>,
    days: &Days,
    group: GroupBy,
) -> Result<(Vec<Json>, Totals), Error> {
    let column = group.column();
    let mut params = vec![Value::Text(days.from.clone()), Value::Text(days.to.clone())];
    if let Some(id) = user_id {
        params.push(Value::Text(id.into()));
    }
    let sql = chat_store::usage::report(column, group == GroupBy::User, user_id.is_some());
    let rows: Vec<Row> = db.query(&sql, params).await?;
    let mut totals = Totals::default();
    let items = rows
        .into_iter()
        .map(|r| {
            totals.requests += r.requests;
            totals.prompt_tokens += r.prompt_tokens;
            totals.completion_tokens += r.completion_tokens;
            item(group, r)
        })
        .collect();
    Ok((items, totals))
}

fn item(group: GroupBy, r: Row) -> Json {
    let mut item = Map::new();
    // Calls made with an access token have no key.
    let key = match (group, r.k.is_empty()) {
        (GroupBy::Key, true) => Json::Null,
        _ => json!(r.k),
    };
    item.insert(group.column().into(), key);
    if group == GroupBy::User {
        item.insert("username".into(), json!(r.username));
    }
    item.insert("requests".into(), json!(r.requests));
    item.insert("prompt_tokens".into(), json!(r.prompt_tokens));
    item.insert("completion_tokens".into(), json!(r.completion_tokens));
    Json::Object(item)
}
