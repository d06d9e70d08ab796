//! `GET /api/usage`: the caller's usage by day, model or API key (`?from&to&group_by`), the
//! totals, and where the caller stands with their quota.

use crate::usage_report::{self, Query};
use chat_core::Error;
use chat_core::spin::auth::Authenticated;
use chat_core::spin::{ApiJson, ApiQuery, Db, RequestContext, usage};
use chat_core::usage::GroupBy;
use serde_json::{Value, json};

pub async fn get(
    Authenticated(caller): Authenticated,
    ctx: RequestContext,
    ApiQuery(query): ApiQuery<Query>,
) -> Result<ApiJson<Value>, Error> {
    let (days, group) = query.parse(&[GroupBy::Day, GroupBy::Model, GroupBy::Key])?;
    let db = Db::open().await?;
    let (items, totals) = usage_report::report(&db, Some(&caller.user_id), &days, group).await?;
    let quota = usage::view(&db, &caller, ctx.config.quota).await?;
    Ok(ApiJson(
        json!({"items": items, "totals": totals, "quota": quota}),
    ))
}
