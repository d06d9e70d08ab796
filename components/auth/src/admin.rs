//! Account changes that must keep at least one active admin. Each runs in one write
//! transaction (`BEGIN IMMEDIATE`), so two admins demoting each other at once cannot both win.

use crate::users::{self, Count, UserRow};
use crate::{security, sessions};
use chat_core::auth::{AccountStatus, Role};
use chat_core::spin::{Db, Value};
use chat_core::{Error, ErrorCode, time};

pub struct AccountChange {
    pub role: Option<Role>,
    pub status: Option<AccountStatus>,
}

fn last_admin() -> Error {
    Error::new(
        ErrorCode::Conflict,
        "This is the last active admin: make another admin first.",
    )
}

fn is_active_admin(user: &UserRow) -> bool {
    user.role == Role::Admin && user.status.is_active()
}

async fn other_active_admins(db: &Db, id: &str) -> Result<i64, Error> {
    let n: Option<Count> = db
        .query_opt(
            chat_store::users::OTHER_ACTIVE_ADMINS,
            vec![Value::Text(id.into())],
        )
        .await?;
    Ok(n.map(|c| c.0).unwrap_or(0))
}

pub async fn change_account(
    db: &Db,
    id: &str,
    change: AccountChange,
) -> Result<(UserRow, UserRow), Error> {
    db.begin().await?;
    let result = async {
        let before = users::by_id(db, id)
            .await?
            .ok_or_else(|| Error::not_found("User"))?;
        let mut after = before.clone();
        if let Some(r) = change.role {
            after.role = r;
        }
        if let Some(s) = change.status {
            after.status = s;
        }
        let was_active_admin = is_active_admin(&before);
        let stays = is_active_admin(&after);
        if was_active_admin && !stays && other_active_admins(db, id).await? == 0 {
            return Err(last_admin());
        }
        db.execute(
            chat_store::users::SET_ROLE_AND_STATUS,
            vec![
                Value::Text(after.role.as_str().into()),
                Value::Text(after.status.as_str().into()),
                Value::Text(time::now_rfc3339()),
                Value::Text(id.into()),
            ],
        )
        .await?;
        Ok((before, after))
    }
    .await;
    match result {
        Ok(r) => {
            db.commit().await?;
            security::set_account(id, r.1.status, r.1.role).await?;
            if !r.1.status.is_active() {
                sessions::revoke_all_except(db, id, None).await?;
            }
            Ok(r)
        }
        Err(e) => {
            db.rollback().await;
            Err(e)
        }
    }
}

pub async fn delete_user(db: &Db, id: &str) -> Result<(), Error> {
    db.begin().await?;
    let result = async {
        let user = users::by_id(db, id)
            .await?
            .ok_or_else(|| Error::not_found("User"))?;
        if is_active_admin(&user) && other_active_admins(db, id).await? == 0 {
            return Err(last_admin());
        }
        for statement in chat_store::users::DELETE_ALL_OF {
            db.execute(statement, vec![Value::Text(id.into())]).await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            db.commit().await?;
            security::forget(id).await
        }
        Err(e) => {
            db.rollback().await;
            Err(e)
        }
    }
}
