//! One file per endpoint.

pub mod admin_ollama;
pub mod message_send;
pub mod model_delete;
pub mod model_get;
pub mod model_pull;
pub mod models_list;
pub mod regenerate;
pub mod stop;
pub mod v1_chat;
pub mod v1_embeddings;
pub mod v1_models;
