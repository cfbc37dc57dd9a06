//! Ferrite: a Redis 7-compatible key-value server whose worker threads all
//! execute commands directly against one shared, lock-free keyspace.

pub mod commands;
pub mod config;
pub mod metrics;
pub mod persistence;
pub mod process;
pub mod protocol;
pub mod scripting;
pub mod server;
pub mod store;
pub mod sync;
pub mod types;
pub mod util;
