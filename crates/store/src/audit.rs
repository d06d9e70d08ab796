//! `audit_log`: every security event, kept for the operator.

use crate::statements;

statements! {
    /// An audit entry: id, time, user (or NULL), event, IP, user agent, details (JSON).
    RECORD = "INSERT INTO audit_log (id, at, user_id, event, ip, user_agent, details) VALUES (?, ?, ?, ?, ?, ?, ?)";
}
