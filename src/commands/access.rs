//! The one way command handlers reach keys: [`Keys`], owned by the command
//! context (`ctx.keys`).
//!
//! A handler never latches or looks up a key in the store itself. It asks
//! `ctx.keys` to [`read`](Keys::read), [`write`](Keys::write) or
//! [`write_many`](Keys::write_many), and the context decides how:
//!
//! * **Standalone** (the usual case), a read is the store's lock-free read,
//!   a write latches the key, a multi-key write latches every key in
//!   canonical order (`store::lock_many`).
//! * **Inside a transaction or script** that already holds latches
//!   ([`HeldKeys`], given to the context by [`Ctx::with_held`]), a key it
//!   holds is handed out through the held latch: never latched twice (that
//!   would wait for itself forever), and reads see the transaction's own
//!   uncommitted writes. A key it does not hold is *try*-latched: taken if
//!   free and then held until the transaction ends, or, if another client
//!   has it latched, the access fails with [`Busy`] without waiting (a
//!   holder of latches that waits for another could deadlock with it). The
//!   handler then stops at once, writing nothing more, and the context
//!   records the key ([`Keys::busy`]) for the caller, which aborts and
//!   retries with the key latched up front (issue 9 builds that caller).
//!
//! The same handler therefore runs standalone, in EXEC and from a script,
//! with no second code path; every access returns [`Access`], which a
//! handler unwraps with `let Ok(..) = .. else { return };`.
//!
//! **The read rule.** A `&Value` is handed out without its key's latch only
//! for values that are never changed in place, under the command's epoch
//! pin. A large hash, set or sorted set that writers change in place (its
//! slot pointer carries [`Value::in_place_tag`]; the store's view then
//! hands out no value) is read under its latch instead ([`Read`] then holds
//! it), so such a value is never read while a writer changes it. And no
//! reference outlives the handle it came from: a handler writes its reply
//! while it still holds the [`Read`], [`Latch`] or [`Latches`]; and a
//! handler never latches another key while it holds a latched read (two
//! handlers doing so in opposite orders would wait for each other).

use super::Ctx;
use crate::protocol::Reply;
use crate::server::{Client, Shared};
use crate::store::{self, Clock, DbTable, Keyspace, LockSet, Locked, ReadView, Slot, Store};
use crate::types::Value;
use crossbeam_epoch::Guard;
use std::ops::{Deref, DerefMut};

/// An access that could not be served without waiting: the key is not held
/// by the enclosing transaction or script, and another client has it
/// latched. The context has recorded the key ([`Keys::busy`]); the handler
/// returns without replying further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// What every key access returns. Outside a transaction or script it is
/// always `Ok`.
pub type Access<T> = Result<T, Busy>;

/// The access that was [`Busy`], for the transaction or script that runs the
/// command: it releases what it holds, then retries with this key latched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyKey {
    pub db: usize,
    /// `None`: a random sample of the database (RANDOMKEY), which cannot be
    /// taken without waiting while latches are held (see [`Keys::random_key`]).
    pub key: Option<Vec<u8>>,
}

/// The latches a transaction or script holds while its commands run
/// (issue 9: EXEC latches the keys of its queued commands, a script its
/// declared KEYS). Commands reach them through [`Ctx::with_held`]. Keys are
/// identified by (keyspace, name); the databases are the ones of the table
/// they were latched in, so a concurrent SWAPDB cannot redirect a command
/// halfway through the transaction.
///
/// Dropping it commits every change made through it: the keys latched up
/// front together (one `LockSet`, inside one snapshot gate), then the keys
/// try-latched later, one by one.
pub struct HeldKeys<'g> {
    table: &'g DbTable,
    set: LockSet<'g>,
    /// (keyspace id, key, request index) of every latch of `set`, sorted
    /// and without duplicates, to find a key's latch by name.
    index: Vec<(u64, &'g [u8], usize)>,
    /// Keys try-latched after the start (not declared up front), with their
    /// keyspace id.
    extra: Vec<(u64, Locked<'g>)>,
    /// Every latch is undoable ([`HeldKeys::latch_undoable`]).
    undoable: bool,
}

/// Where a held latch is.
#[derive(Clone, Copy, Debug)]
enum Loc {
    Set(usize),
    Extra(usize),
}

impl<'g> HeldKeys<'g> {
    /// Latches `keys` ((database, key) pairs, duplicates allowed) in
    /// canonical order, waiting as any multi-key command does. Meant to be
    /// called with no other latch held.
    pub fn latch(
        store: &'g Store,
        keys: &[(usize, &[u8])],
        clock: Clock,
        guard: &'g Guard,
    ) -> HeldKeys<'g> {
        let table = store.table(guard);
        let pairs: Vec<(&'g Keyspace, &[u8])> = keys
            .iter()
            .map(|&(db, key)| (&*table.dbs[db], key))
            .collect();
        let set = store::lock_many(&pairs, clock, guard);
        let mut index: Vec<(u64, &'g [u8], usize)> = pairs
            .iter()
            .enumerate()
            .map(|(i, (ks, _))| (ks.id(), set.nth_ref(i).key(), i))
            .collect();
        index.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        index.dedup_by(|a, b| (a.0, a.1) == (b.0, b.1));
        HeldKeys {
            table,
            set,
            index,
            extra: Vec::new(),
            undoable: false,
        }
    }

    /// [`HeldKeys::latch`] for a transaction that may have to give up and
    /// retry: no value is changed in place through these latches (nor those
    /// try-latched later), so [`HeldKeys::abandon`] undoes every change.
    pub fn latch_undoable(
        store: &'g Store,
        keys: &[(usize, &[u8])],
        clock: Clock,
        guard: &'g Guard,
    ) -> HeldKeys<'g> {
        let mut held = HeldKeys::latch(store, keys, clock, guard);
        held.set.make_undoable();
        held.undoable = true;
        held
    }

    /// The stamp addresses of every held latch (`store::stalled`).
    pub fn stamp_addrs(&self) -> Vec<usize> {
        self.set
            .iter()
            .chain(self.extra.iter().map(|(_, l)| l))
            .map(|l| l.slot().stamp.word_addr())
            .collect()
    }

    /// Releases every latch without publishing what was changed through them.
    pub fn abandon(self) {
        self.set.abandon();
        for (_, l) in self.extra {
            l.abandon();
        }
    }

    /// Database `db` of the table the keys were latched in.
    pub fn keyspace(&self, db: usize) -> &'g Keyspace {
        let table: &'g DbTable = self.table;
        &table.dbs[db]
    }

    /// The latch of a held key.
    pub fn latch_of(&self, db: usize, key: &[u8]) -> Option<&Locked<'g>> {
        let loc = self.find(self.table.dbs[db].id(), key)?;
        Some(self.at_ref(loc))
    }

    /// Whether `key` of database `db` is held (latched up front or since).
    pub fn holds(&self, db: usize, key: &[u8]) -> bool {
        self.find(self.table.dbs[db].id(), key).is_some()
    }

    fn find(&self, ks: u64, key: &[u8]) -> Option<Loc> {
        if let Ok(p) = self.index.binary_search_by(|e| (e.0, e.1).cmp(&(ks, key))) {
            return Some(Loc::Set(self.index[p].2));
        }
        self.extra
            .iter()
            .position(|(id, l)| *id == ks && l.key() == key)
            .map(Loc::Extra)
    }

    /// The held latch of `key`, try-latching it if it is not held yet.
    /// `None`: another client holds it. The flag says whether it was held
    /// already (a fresh latch has recorded the access itself).
    fn acquire(
        &mut self,
        ks: &'g Keyspace,
        key: &[u8],
        clock: Clock,
        guard: &'g Guard,
    ) -> Option<(Loc, bool)> {
        if let Some(loc) = self.find(ks.id(), key) {
            return Some((loc, true));
        }
        let mut latch = ks.try_lock(key, clock, guard)?;
        if self.undoable {
            latch.make_undoable();
        }
        self.extra.push((ks.id(), latch));
        Some((Loc::Extra(self.extra.len() - 1), false))
    }

    fn at(&mut self, loc: Loc) -> &mut Locked<'g> {
        match loc {
            Loc::Set(i) => self.set.nth(i),
            Loc::Extra(i) => &mut self.extra[i].1,
        }
    }

    fn at_ref(&self, loc: Loc) -> &Locked<'g> {
        match loc {
            Loc::Set(i) => self.set.nth_ref(i),
            Loc::Extra(i) => &self.extra[i].1,
        }
    }
}

/// A latched key, as [`Keys::write`] hands it out: the command's own latch,
/// released (and its changes published) when this is dropped, or a latch
/// held by the enclosing transaction, whose changes are published when the
/// transaction ends. Either way it derefs to the store's `Locked`.
pub struct Latch<'c, 'g>(LatchInner<'c, 'g>);

enum LatchInner<'c, 'g> {
    Own(Locked<'g>),
    Held(&'c mut Locked<'g>),
}

impl<'g> Deref for Latch<'_, 'g> {
    type Target = Locked<'g>;
    fn deref(&self) -> &Locked<'g> {
        match &self.0 {
            LatchInner::Own(l) => l,
            LatchInner::Held(l) => l,
        }
    }
}

impl<'g> DerefMut for Latch<'_, 'g> {
    fn deref_mut(&mut self) -> &mut Locked<'g> {
        match &mut self.0 {
            LatchInner::Own(l) => l,
            LatchInner::Held(l) => l,
        }
    }
}

/// The latches of a multi-key command, in request order (a key requested
/// twice has one latch): the command's own `LockSet`, or latches held by the
/// enclosing transaction.
pub struct Latches<'c, 'g> {
    len: usize,
    inner: LatchesInner<'c, 'g>,
}

enum LatchesInner<'c, 'g> {
    Own(LockSet<'g>),
    Held {
        held: &'c mut HeldKeys<'g>,
        locs: Vec<Loc>,
    },
}

impl<'g> Latches<'_, 'g> {
    /// Number of keys requested.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The latch of the i-th requested key.
    pub fn nth(&mut self, i: usize) -> &mut Locked<'g> {
        match &mut self.inner {
            LatchesInner::Own(set) => set.nth(i),
            LatchesInner::Held { held, locs } => held.at(locs[i]),
        }
    }

    /// The latch of the i-th requested key, shared (to read several at once).
    pub fn nth_ref(&self, i: usize) -> &Locked<'g> {
        match &self.inner {
            LatchesInner::Own(set) => set.nth_ref(i),
            LatchesInner::Held { held, locs } => held.at_ref(locs[i]),
        }
    }
}

/// A live key being read: its value, expiry and slot. Lock-free for a value
/// that is never changed in place, latched otherwise (and inside a
/// transaction); see the read rule in the module documentation.
pub struct Read<'r, 'g>(ReadInner<'r, 'g>);

enum ReadInner<'r, 'g> {
    View(ReadView<'g>),
    /// Holds a value: [`Keys`] hands out only latches of live keys.
    Latched(Latch<'r, 'g>),
}

impl Read<'_, '_> {
    pub fn value(&self) -> &Value {
        match &self.0 {
            ReadInner::View(v) => v
                .value()
                .expect("only a copy-on-write value is read through a view"),
            ReadInner::Latched(l) => l.value().expect("a read key has a value"),
        }
    }

    /// Absolute expiry in ms, `None` if the key is persistent.
    pub fn expire(&self) -> Option<u64> {
        match &self.0 {
            ReadInner::View(v) => (v.expire != 0).then_some(v.expire),
            ReadInner::Latched(l) => l.expire(),
        }
    }

    pub fn slot(&self) -> &Slot {
        match &self.0 {
            ReadInner::View(v) => v.slot,
            ReadInner::Latched(l) => l.slot(),
        }
    }
}

/// Several keys read as of one instant (MGET, EXISTS, LCS), in request order.
pub struct Reads<'r, 'g>(ReadsInner<'r, 'g>);

enum ReadsInner<'r, 'g> {
    /// Values read lock-free: none of them is changed in place.
    Values(Vec<Option<&'g Value>>),
    Latched(Latches<'r, 'g>),
}

impl Reads<'_, '_> {
    pub fn len(&self) -> usize {
        match &self.0 {
            ReadsInner::Values(v) => v.len(),
            ReadsInner::Latched(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of the i-th requested key, `None` if it does not exist.
    pub fn get(&self, i: usize) -> Option<&Value> {
        match &self.0 {
            ReadsInner::Values(v) => v[i],
            ReadsInner::Latched(l) => l.nth_ref(i).value(),
        }
    }

    /// How many of the requested keys exist (a key requested twice counts
    /// twice, as EXISTS does).
    pub fn found(&self) -> usize {
        (0..self.len()).filter(|&i| self.get(i).is_some()).count()
    }
}

/// Key access for one command: the selected database, the command's clock
/// and epoch pin, and the latches the enclosing transaction or script holds,
/// if any. See the module documentation.
pub struct Keys<'a, 'g> {
    store: &'g Store,
    guard: &'g Guard,
    clock: Clock,
    db: usize,
    held: Option<&'a mut HeldKeys<'g>>,
    /// Inside a transaction that runs alone (`store::world`): keys are
    /// latched as standalone, but blocked clients are served afterwards.
    alone: bool,
    busy: Option<BusyKey>,
    /// Tests: read every value as if it were changed in place.
    #[cfg(test)]
    latch_every_read: bool,
}

impl<'a, 'g> Keys<'a, 'g> {
    fn new(
        store: &'g Store,
        db: usize,
        guard: &'g Guard,
        clock: Clock,
        held: Option<&'a mut HeldKeys<'g>>,
    ) -> Keys<'a, 'g> {
        Keys {
            store,
            guard,
            clock,
            db,
            held,
            alone: false,
            busy: None,
            #[cfg(test)]
            latch_every_read: false,
        }
    }

    /// Database `idx` (already validated): the held keys' table inside a
    /// transaction, the current one otherwise.
    pub fn keyspace(&self, idx: usize) -> &'g Keyspace {
        match &self.held {
            Some(held) => {
                let table: &'g DbTable = held.table;
                &table.dbs[idx]
            }
            None => self.store.db(idx, self.guard),
        }
    }

    /// The selected database's index.
    pub fn selected(&self) -> usize {
        self.db
    }

    pub(super) fn select(&mut self, db: usize) {
        self.db = db;
    }

    /// Whether this command runs inside a transaction or script (holding
    /// its keys, or alone): it must not block, and the clients blocked on
    /// keys it fills are served after the transaction.
    pub fn in_held(&self) -> bool {
        self.held.is_some() || self.alone
    }

    /// The access that was [`Busy`], if one was.
    pub fn busy(&self) -> Option<&BusyKey> {
        self.busy.as_ref()
    }

    /// The latches of the enclosing transaction, for a script it runs
    /// (EVAL inside EXEC latches nothing of its own).
    pub fn held_mut(&mut self) -> Option<&mut HeldKeys<'g>> {
        self.held.as_deref_mut()
    }

    /// Records that a script run by the enclosing transaction needed `key`
    /// (see [`Keys::busy`]).
    pub fn set_busy(&mut self, key: BusyKey) {
        self.busy = Some(key);
    }

    fn blocked<T>(&mut self, db: usize, key: Option<&[u8]>) -> Access<T> {
        self.busy = Some(BusyKey {
            db,
            key: key.map(<[u8]>::to_vec),
        });
        Err(Busy)
    }

    /// Whether the value `view` saw must be read under its key's latch.
    fn latched_read(&self, view: &ReadView<'_>) -> bool {
        self.latch_all() || view.in_place()
    }

    /// Whether every read must latch (a test of the latched read path).
    fn latch_all(&self) -> bool {
        #[cfg(test)]
        if self.latch_every_read {
            return true;
        }
        false
    }

    /// Reads `key` (recording the access, as Redis's lookups do); `None` if
    /// it does not exist or has expired.
    pub fn read(&mut self, key: &[u8]) -> Access<Option<Read<'_, 'g>>> {
        self.lookup(self.db, key, self.clock)
    }

    /// Reads `key` of database `db`.
    pub fn read_in(&mut self, db: usize, key: &[u8]) -> Access<Option<Read<'_, 'g>>> {
        self.lookup(db, key, self.clock)
    }

    /// Reads `key` without recording an access (Redis's `LOOKUP_NOTOUCH`:
    /// TYPE, TTL, OBJECT).
    pub fn peek(&mut self, key: &[u8]) -> Access<Option<Read<'_, 'g>>> {
        self.lookup(self.db, key, self.clock.no_touch())
    }

    fn lookup(&mut self, db: usize, key: &[u8], clock: Clock) -> Access<Option<Read<'_, 'g>>> {
        if self.held.is_some() {
            let latch = self.held_latch(db, key, clock)?;
            return Ok(if latch.exists() {
                Some(Read(ReadInner::Latched(latch)))
            } else {
                None
            });
        }
        let ks = self.keyspace(db);
        let Some(view) = ks.get(key, clock, self.guard) else {
            return Ok(None);
        };
        if !self.latched_read(&view) {
            return Ok(Some(Read(ReadInner::View(view))));
        }
        // Changed in place by writers: read it under its latch. The lookup
        // above already recorded the access.
        Ok(ks
            .lock_existing(key, clock.no_touch(), self.guard)
            .filter(|l| l.exists())
            .map(|l| Read(ReadInner::Latched(Latch(LatchInner::Own(l))))))
    }

    /// Reads several keys of the selected database as of one instant,
    /// recording an access to each.
    pub fn read_many(&mut self, keys: &[&[u8]]) -> Access<Reads<'_, 'g>> {
        self.read_many_with(keys, self.clock)
    }

    /// [`Keys::read_many`] without recording accesses (EXISTS).
    pub fn peek_many(&mut self, keys: &[&[u8]]) -> Access<Reads<'_, 'g>> {
        self.read_many_with(keys, self.clock.no_touch())
    }

    fn read_many_with(&mut self, keys: &[&[u8]], clock: Clock) -> Access<Reads<'_, 'g>> {
        if self.held.is_some() {
            let pairs: Vec<(usize, &[u8])> = keys.iter().map(|k| (self.db, *k)).collect();
            let latches = self.latch_many(&pairs, clock)?;
            return Ok(Reads(ReadsInner::Latched(latches)));
        }
        let ks = self.keyspace(self.db);
        let values = store::read_many(ks, keys, clock, self.guard);
        if let Some(values) = values.filter(|_| !self.latch_all()) {
            return Ok(Reads(ReadsInner::Values(values)));
        }
        // Some value is changed in place: read them all under their latches
        // (the reads above recorded the accesses).
        let pairs: Vec<(&'g Keyspace, &[u8])> = keys.iter().map(|k| (ks, *k)).collect();
        let set = store::lock_many(&pairs, clock.no_touch(), self.guard);
        Ok(Reads(ReadsInner::Latched(Latches {
            len: keys.len(),
            inner: LatchesInner::Own(set),
        })))
    }

    /// Latches `key` of the selected database for writing, creating it if
    /// absent (a key left without a value is removed when released).
    pub fn write(&mut self, key: &[u8]) -> Access<Latch<'_, 'g>> {
        if self.held.is_some() {
            return self.held_latch(self.db, key, self.clock);
        }
        let ks = self.keyspace(self.db);
        Ok(Latch(LatchInner::Own(ks.lock(key, self.clock, self.guard))))
    }

    /// Latches `key` only if it exists (an expired key is deleted on the
    /// way); `None` if it does not.
    pub fn write_existing(&mut self, key: &[u8]) -> Access<Option<Latch<'_, 'g>>> {
        if self.held.is_some() {
            let latch = self.held_latch(self.db, key, self.clock)?;
            return Ok(if latch.exists() { Some(latch) } else { None });
        }
        let ks = self.keyspace(self.db);
        Ok(ks
            .lock_existing(key, self.clock, self.guard)
            .filter(|l| l.exists())
            .map(|l| Latch(LatchInner::Own(l))))
    }

    /// Latches several keys of the selected database at once, for a
    /// multi-key write (MSET, DEL, RENAME).
    pub fn write_many(&mut self, keys: &[&[u8]]) -> Access<Latches<'_, 'g>> {
        let pairs: Vec<(usize, &[u8])> = keys.iter().map(|k| (self.db, *k)).collect();
        self.latch_many(&pairs, self.clock)
    }

    /// Latches several keys of any databases at once (MOVE, COPY ... DB).
    /// The databases are resolved from one version of the database table,
    /// so a concurrent SWAPDB cannot make two of them one keyspace halfway.
    pub fn write_many_in(&mut self, keys: &[(usize, &[u8])]) -> Access<Latches<'_, 'g>> {
        self.latch_many(keys, self.clock)
    }

    fn latch_many(&mut self, keys: &[(usize, &[u8])], clock: Clock) -> Access<Latches<'_, 'g>> {
        if self.held.is_some() {
            let mut locs = Vec::with_capacity(keys.len());
            for &(db, key) in keys {
                let ks = self.keyspace(db);
                let held = self.held.as_deref_mut().expect("held keys");
                let Some((loc, was_held)) = held.acquire(ks, key, clock, self.guard) else {
                    // Keys try-latched so far stay held: the transaction
                    // releases them when it aborts.
                    return self.blocked(db, Some(key));
                };
                if was_held {
                    touch(held.at_ref(loc), clock);
                }
                locs.push(loc);
            }
            let held = self.held.as_deref_mut().expect("held keys");
            return Ok(Latches {
                len: keys.len(),
                inner: LatchesInner::Held { held, locs },
            });
        }
        let table = self.store.table(self.guard);
        let pairs: Vec<(&'g Keyspace, &[u8])> = keys
            .iter()
            .map(|&(db, key)| (&*table.dbs[db], key))
            .collect();
        Ok(Latches {
            len: keys.len(),
            inner: LatchesInner::Own(store::lock_many(&pairs, clock, self.guard)),
        })
    }

    /// The held latch of `key`, try-latching it if the transaction does not
    /// hold it yet; [`Busy`] if another client has it.
    fn held_latch(&mut self, db: usize, key: &[u8], clock: Clock) -> Access<Latch<'_, 'g>> {
        let ks = self.keyspace(db);
        let held = self.held.as_deref_mut().expect("held keys");
        let Some((loc, was_held)) = held.acquire(ks, key, clock, self.guard) else {
            return self.blocked(db, Some(key));
        };
        let held = self.held.as_deref_mut().expect("held keys");
        let latch = held.at(loc);
        if was_held {
            // Latched before this command: record this command's access, as
            // a standalone command's own latch does.
            touch(latch, clock);
        }
        Ok(Latch(LatchInner::Held(latch)))
    }

    /// A random live key of the selected database (RANDOMKEY), uniformly
    /// sampled; expired keys met on the way are deleted.
    ///
    /// Not inside a transaction or script yet: the store's sampler reads
    /// slots with a read that waits for a latched one (and latches an
    /// expired one to delete it), which could wait for a latch the
    /// transaction itself holds. It answers [`Busy`] there until the store
    /// has a sampler that never waits (issue 9).
    pub fn random_key(&mut self) -> Access<Option<&'g [u8]>> {
        if self.held.is_some() {
            return self.blocked(self.db, None);
        }
        let ks = self.keyspace(self.db);
        Ok(ks.random_key(self.clock.no_touch(), self.guard))
    }
}

/// Records an access to a live key under `clock` (nothing if it is a
/// no-touch clock).
fn touch(latch: &Locked<'_>, clock: Clock) {
    if let (Some(lru), true) = (clock.lru, latch.exists()) {
        latch.slot().touch(lru);
    }
}

impl<'a, 'g> Ctx<'a, 'g> {
    /// The context of a standalone command.
    pub fn new(
        shared: &'g Shared,
        client: &'a mut Client,
        out: &'a mut Reply,
        guard: &'g Guard,
        clock: Clock,
    ) -> Ctx<'a, 'g> {
        let keys = Keys::new(&shared.store, client.db, guard, clock, None);
        Ctx {
            shared,
            client,
            out,
            guard,
            clock,
            keys,
        }
    }

    /// The context of a command of a transaction that runs alone
    /// (`store::world`): keys are reached as standalone, but the command
    /// neither blocks nor serves blocked clients (see [`Keys::in_held`]).
    pub fn alone(
        shared: &'g Shared,
        client: &'a mut Client,
        out: &'a mut Reply,
        guard: &'g Guard,
        clock: Clock,
    ) -> Ctx<'a, 'g> {
        let mut ctx = Ctx::new(shared, client, out, guard, clock);
        ctx.keys.alone = true;
        ctx
    }

    /// The context of a command run by a transaction or script that holds
    /// `held`: its keys are reached through those latches.
    pub fn with_held(
        shared: &'g Shared,
        client: &'a mut Client,
        out: &'a mut Reply,
        guard: &'g Guard,
        clock: Clock,
        held: &'a mut HeldKeys<'g>,
    ) -> Ctx<'a, 'g> {
        let keys = Keys::new(&shared.store, client.db, guard, clock, Some(held));
        Ctx {
            shared,
            client,
            out,
            guard,
            clock,
            keys,
        }
    }
}

#[cfg(test)]
mod tests;
