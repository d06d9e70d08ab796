//! A small HTTP client for the app's API (registration, login, requests with a token).

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone)]
pub struct App {
    pub url: String,
    pub http: reqwest::Client,
}

pub struct User {
    pub username: String,
    pub password: String,
    pub token: String,
}

impl App {
    pub fn new(url: &str) -> Result<Self> {
        Ok(Self {
            url: url.to_string(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        })
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A new account (unique name per run).
    pub async fn user(&self) -> Result<User> {
        static N: AtomicU64 = AtomicU64::new(0);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_micros();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let username = format!("bench_{stamp:x}_{n}");
        let password = format!("bench horse battery {stamp:x}{n}");
        let r = self
            .http
            .post(self.at("/api/auth/register"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?;
        ensure!(
            r.status() == 201,
            "register: {} {}",
            r.status(),
            r.text().await?
        );
        let body: Value = r.json().await?;
        Ok(User {
            username,
            password,
            token: body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }

    pub async fn login(&self, user: &User) -> Result<()> {
        let r = self
            .http
            .post(self.at("/api/auth/login"))
            .json(&json!({"username": user.username, "password": user.password}))
            .send()
            .await?;
        ensure!(r.status() == 200, "login: {}", r.status());
        r.bytes().await?;
        Ok(())
    }

    /// `POST path` with a token and a JSON body; the answer must have `status`.
    pub async fn post(&self, token: &str, path: &str, body: &Value, status: u16) -> Result<Value> {
        let r = self
            .http
            .post(self.at(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await?;
        ensure!(
            r.status() == status,
            "POST {path}: {} {}",
            r.status(),
            r.text().await?
        );
        Ok(r.json().await?)
    }

    /// A new conversation's id.
    pub async fn conversation(&self, token: &str) -> Result<String> {
        let v = self
            .post(
                token,
                "/api/conversations",
                &json!({"title": "bench", "model": "llama3.2:1b"}),
                201,
            )
            .await?;
        Ok(v["conversation"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }
}
