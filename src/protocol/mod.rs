//! RESP2/RESP3 wire protocol: the request parser (multibulk and inline) and the
//! reply writer. Both work on the connection's own buffers so that a pipeline of
//! commands is parsed and answered without per-command syscalls.

pub mod parse;
pub mod peek;
pub mod reply;

pub use parse::{ParseError, Parser};
pub use reply::Reply;
