//! Small helpers shared across the server.

pub mod args;
pub mod num;
pub mod time;
