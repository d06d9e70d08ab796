//! `GET /api/admin/users`: every user, newest first, paginated (admins only).

use crate::users::{UserRow, UserView};
use chat_core::Error;
use chat_core::cursor::{Page, PageQuery};
use chat_core::spin::auth::{Admin, key_pepper};
use chat_core::spin::{ApiJson, ApiQuery, Db, Value};

const SCOPE: &str = "admin-users";

pub async fn get(
    Admin(_admin): Admin,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<UserView>>, Error> {
    let limit = chat_core::cursor::limit(q.limit)?;
    let key = key_pepper().await?;
    let after: Option<(String, String)> = q
        .cursor
        .as_deref()
        .map(|c| chat_core::cursor::decode(key.as_bytes(), SCOPE, c))
        .transpose()?;
    let db = Db::open().await?;
    // One more than asked tells whether there is a next page.
    let mut rows: Vec<UserRow> = match &after {
        Some((created_at, id)) => {
            db.query(
                chat_store::users::PAGE_AFTER,
                vec![
                    Value::Text(created_at.clone()),
                    Value::Text(id.clone()),
                    Value::Integer(i64::from(limit) + 1),
                ],
            )
            .await?
        }
        None => {
            db.query(
                chat_store::users::FIRST_PAGE,
                vec![Value::Integer(i64::from(limit) + 1)],
            )
            .await?
        }
    };
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|u| {
            chat_core::cursor::encode(key.as_bytes(), SCOPE, &(u.created_at.clone(), u.id.clone()))
        })
    } else {
        None
    };
    Ok(ApiJson(Page {
        items: rows.iter().map(UserRow::view).collect(),
        next_cursor,
    }))
}
