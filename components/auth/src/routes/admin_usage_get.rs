//! `GET /api/admin/usage`: everyone's usage by user, day or model (`?from&to&group_by`),
//! with the totals (admins only). `quota` is `null`: quotas are each user's.

use crate::usage_report::{self, Query};
use chat_core::Error;
use chat_core::spin::auth::Admin;
use chat_core::spin::{ApiJson, ApiQuery, Db};
use chat_core::usage::GroupBy;
use serde_json::{Value, json};

pub async fn get(_: Admin, ApiQuery(query): ApiQuery<Query>) -> Result<ApiJson<Value>, Error> {
    let (days, group) = query.parse(&[GroupBy::User, GroupBy::Day, GroupBy::Model])?;
    let db = Db::open().await?;
    let (items, totals) = usage_report::report(&db, None, &days, group).await?;
    Ok(ApiJson(
        json!({"items": items, "totals": totals, "quota": null}),
    ))
}
