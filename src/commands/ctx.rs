//! What a command handler gets: the shared server, its own client, the reply
//! buffer, an epoch guard and the command's clock.

use crate::protocol::Reply;
use crate::server::{Client, Shared};
use crate::store::{Clock, Keyspace};
use crossbeam_epoch::Guard;

pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    pub guard: &'a Guard,
    /// One timestamp per command, as Redis uses for expiry decisions.
    pub clock: Clock,
}

impl<'a> Ctx<'a> {
    /// The client's selected database.
    pub fn db(&self) -> &'a Keyspace {
        self.shared.store.db(self.client.db, self.guard)
    }

    /// Database `idx` (already validated against `databases`).
    pub fn db_at(&self, idx: usize) -> &'a Keyspace {
        self.shared.store.db(idx, self.guard)
    }

    /// Writes an error reply (full text with its code, e.g. `ERR ...`).
    pub fn error(&mut self, msg: &str) {
        self.out.error(msg);
    }

    /// Parses an integer argument, replying with Redis's error if it is not one.
    pub fn int_arg(&mut self, arg: &[u8]) -> Option<i64> {
        int_arg(self.out, arg)
    }

    /// Parses and validates a database index argument.
    pub fn db_index_arg(&mut self, arg: &[u8]) -> Option<usize> {
        let Some(n) = crate::util::num::parse_i64(arg) else {
            self.out.error(super::errors::NOT_INTEGER);
            return None;
        };
        // Redis reads the index as a C int first.
        if i32::try_from(n).is_err() {
            self.out.error(super::errors::NOT_INT32);
            return None;
        }
        if n < 0 || n as usize >= self.shared.store.num_dbs() {
            self.out.error(super::errors::DB_INDEX);
            return None;
        }
        Some(n as usize)
    }
}

/// What a command that pins the epoch itself gets (see
/// `table::Handler::Unpinned`): the same as [`Ctx`] without a guard, so it
/// cannot hold references into the keyspace across its own re-pins.
pub struct Unpinned<'a> {
    pub shared: &'a Shared,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    pub clock: Clock,
}

impl Unpinned<'_> {
    pub fn error(&mut self, msg: &str) {
        self.out.error(msg);
    }

    /// Parses an integer argument, replying with Redis's error if it is not one.
    pub fn int_arg(&mut self, arg: &[u8]) -> Option<i64> {
        int_arg(self.out, arg)
    }
}

/// An integer argument, or Redis's error reply written to `out`.
fn int_arg(out: &mut Reply, arg: &[u8]) -> Option<i64> {
    let v = crate::util::num::parse_i64(arg);
    if v.is_none() {
        out.error(super::errors::NOT_INTEGER);
    }
    v
}
