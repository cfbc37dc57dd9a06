//! What a command handler gets: the shared server, its own client, the reply
//! buffer, an epoch guard, the command's clock, and [`Keys`], the only way
//! it reaches keys (see `commands::access`).

use super::access::Keys;
use crate::protocol::Reply;
use crate::server::{Client, Shared};
use crate::store::{Clock, Keyspace};
use crossbeam_epoch::Guard;

/// Built by [`Ctx::new`] (a standalone command) or [`Ctx::with_held`] (a
/// command of a transaction or script that holds latches). `'a` is the
/// command's borrow of its connection, `'g` the epoch pin it runs under.
pub struct Ctx<'a, 'g> {
    pub shared: &'g Shared,
    pub client: &'a mut Client,
    pub out: &'a mut Reply,
    pub guard: &'g Guard,
    /// One timestamp per command, as Redis uses for expiry decisions.
    pub clock: Clock,
    /// Every read and write of a key goes through here. A separate field,
    /// so a handler can write its reply to `out` while it holds a key.
    pub keys: Keys<'a, 'g>,
}

impl<'a, 'g> Ctx<'a, 'g> {
    /// The client's selected database, for what is not a key access
    /// (DBSIZE, sizing ahead of a big MSET).
    pub fn db(&self) -> &'g Keyspace {
        self.keys.keyspace(self.keys.selected())
    }

    /// Database `idx` (already validated against `databases`).
    pub fn db_at(&self, idx: usize) -> &'g Keyspace {
        self.keys.keyspace(idx)
    }

    /// SELECT: the client's database from now on, this command's too.
    pub fn select(&mut self, db: usize) {
        self.client.select(db);
        self.keys.select(db);
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
