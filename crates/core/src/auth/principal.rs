//! Who is calling: the result of authenticating a request.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// Where an account stands: only an active one may sign in or use its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Active,
    /// Registered while sign-up needs approval; waiting for an admin.
    Pending,
    /// Turned off by an admin.
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Pending => "pending",
            AccountStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(AccountStatus::Active),
            "pending" => Some(AccountStatus::Pending),
            "disabled" => Some(AccountStatus::Disabled),
            _ => None,
        }
    }

    pub fn is_active(self) -> bool {
        self == AccountStatus::Active
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this session.
    Session(String),
    /// The API key with this id.
    ApiKey(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    pub credential: Credential,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_statuses_read_back_what_they_write() {
        for r in [Role::Admin, Role::User] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for s in [
            AccountStatus::Active,
            AccountStatus::Pending,
            AccountStatus::Disabled,
        ] {
            assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
        assert_eq!(AccountStatus::parse("deleted"), None);
        assert_eq!(Role::parse("Admin"), None);
    }
}
