//! Per-connection state, the registry CLIENT LIST/KILL read, and CLIENT PAUSE.

use crate::commands::Command;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::{Arc, Mutex};

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Suppress the reply of the next command only.
    Skip,
    /// Set by CLIENT REPLY SKIP; becomes `Skip` after the CLIENT command itself.
    SkipNext,
}

/// State owned by the connection task (no synchronisation needed).
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    pub resp: u8,
    pub reply_mode: ReplyMode,
    pub no_touch: bool,
    pub no_evict: bool,
    /// Close the connection once the pending replies are written (QUIT, errors).
    pub close_after_reply: bool,
    pub info: Arc<ClientInfo>,
    /// The last plain (non-container) command this client ran: pipelines
    /// repeat one command, and a case-insensitive compare of its name is far
    /// cheaper than a table lookup. With it, its [`crate::commands::stat_id`].
    pub last_command: Option<(&'static Command, usize)>,
    /// Parked by its last command (BLPOP...): the connection waits for it
    /// to be served, time out or be unblocked (`commands::blocking`).
    pub blocked: Option<crate::commands::blocking::Blocked>,
    /// Keys the last command made ready for blocked clients, served once it
    /// has released its latches (`commands::blocking::serve_ready`).
    pub ready: Vec<(usize, Vec<u8>)>,
    /// Blocking commands answer at once instead of blocking (inside MULTI
    /// and scripts).
    pub deny_blocking: bool,
    /// The transaction being queued, after MULTI (`commands::multi`).
    pub tx: Option<crate::commands::multi::Queue>,
    /// Keys WATCHed for the next EXEC.
    pub watched: Vec<crate::commands::multi::Watched>,
    /// The error reply of the command just run was already counted in
    /// INFO's error statistics (a script's error raised by one of its
    /// calls): count the command as failed, not the error again.
    pub error_counted: bool,
    /// Its commands are run by a script (Redis's `CLIENT_SCRIPT`: SORT of a
    /// set BY a constant then sorts, for a deterministic reply).
    pub in_script: bool,
}

impl Client {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Client {
        Client {
            id: info.id,
            db: 0,
            authenticated,
            resp: 2,
            error_counted: false,
            in_script: false,
            reply_mode: ReplyMode::On,
            no_touch: false,
            no_evict: false,
            close_after_reply: false,
            info,
            last_command: None,
            blocked: None,
            ready: Vec::new(),
            deny_blocking: false,
            tx: None,
            watched: Vec::new(),
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }
}

/// Client state flags shown by CLIENT LIST (`flags=`) and used for CLIENT
/// LIST/KILL TYPE. Features set and clear their own bit in `ClientInfo::flags`
/// (`set_flag`/`clear_flag`); no other connection ever writes them.
pub mod cflags {
    /// In MULTI (`x`).
    pub const MULTI: u32 = 1 << 0;
    /// Blocked in BLPOP, XREAD BLOCK, WAIT... (`b`).
    pub const BLOCKED: u32 = 1 << 1;
    /// In RESP2 subscriber mode (`P`, type `pubsub`).
    pub const PUBSUB: u32 = 1 << 2;
    /// A replica connected to us (`S`, type `replica`).
    pub const REPLICA: u32 = 1 << 3;
    /// Our master's connection (`M`, type `master`).
    pub const MASTER: u32 = 1 << 4;
    /// A MONITOR client (`O`; its TYPE is `normal`).
    pub const MONITOR: u32 = 1 << 5;
    /// A watched key changed; EXEC will fail (`d`).
    pub const DIRTY_CAS: u32 = 1 << 6;
    /// Client-side caching enabled (`t`).
    pub const TRACKING: u32 = 1 << 7;
    /// Tracking in broadcast mode (`B`).
    pub const TRACKING_BCAST: u32 = 1 << 8;
    /// READONLY issued (cluster) (`r`).
    pub const READONLY: u32 = 1 << 9;
    /// Close once the pending reply is written (`c`).
    pub const CLOSE_AFTER_REPLY: u32 = 1 << 10;
    /// Unblocked, to be served again (`u`).
    pub const UNBLOCKED: u32 = 1 << 11;
    /// Blocked with a deadline (INFO `clients_in_timeout_table`; not shown
    /// by CLIENT LIST).
    pub const IN_TIMEOUT_TABLE: u32 = 1 << 16;
}

/// CLIENT LIST / CLIENT KILL `TYPE` classes, as Redis's getClientType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Replica,
    Pubsub,
    Master,
}

impl ClientType {
    /// Parses a TYPE argument (`normal`, `master`, `replica`/`slave`, `pubsub`).
    pub fn parse(name: &[u8]) -> Option<ClientType> {
        let lower = name.to_ascii_lowercase();
        match &lower[..] {
            b"normal" => Some(ClientType::Normal),
            b"slave" | b"replica" => Some(ClientType::Replica),
            b"pubsub" => Some(ClientType::Pubsub),
            b"master" => Some(ClientType::Master),
            _ => None,
        }
    }
}

/// The part of a client other connections may look at (CLIENT LIST, INFO,
/// CLIENT KILL). Written only by the owning connection, with relaxed atomics.
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i64,
    pub created_ms: u64,
    pub last_interaction_ms: AtomicU64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub name: Mutex<Option<Bytes>>,
    pub lib_name: Mutex<Option<Bytes>>,
    pub lib_ver: Mutex<Option<Bytes>>,
    pub last_cmd: AtomicPtr<Command>,
    pub qbuf: AtomicU64,
    pub qbuf_free: AtomicU64,
    pub argv_mem: AtomicU64,
    pub obl: AtomicU64,
    pub omem: AtomicU64,
    pub tot_mem: AtomicU64,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// Set by CLIENT KILL; the connection notices through `kill`.
    pub killed: AtomicBool,
    pub kill: tokio::sync::Notify,
    /// [`cflags`] bits.
    pub flags: AtomicU32,
    /// Channels, patterns and shard channels subscribed to (`sub`, `psub`, `ssub`).
    pub sub: AtomicU32,
    pub psub: AtomicU32,
    pub ssub: AtomicU32,
    /// Commands queued in MULTI, or -1 outside a transaction (`multi`).
    pub multi: AtomicI64,
    /// Bytes of the arguments of queued MULTI commands (`multi-mem`).
    pub multi_mem: AtomicU64,
    /// Reply buffer size and its peak (`rbs`, `rbp`).
    pub rbs: AtomicU64,
    pub rbp: AtomicU64,
    /// The ACL user the connection is authenticated as (`user`).
    pub user: Mutex<String>,
    /// The waiter of the command it is blocked in, for CLIENT UNBLOCK.
    pub waiter: Mutex<Option<Arc<crate::commands::blocking::BlockedWaiter>>>,
}

impl ClientInfo {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i64) -> ClientInfo {
        let now = crate::util::time::now_ms();
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created_ms: now,
            last_interaction_ms: AtomicU64::new(now),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            last_cmd: AtomicPtr::new(std::ptr::null_mut()),
            qbuf: AtomicU64::new(0),
            qbuf_free: AtomicU64::new(0),
            argv_mem: AtomicU64::new(0),
            obl: AtomicU64::new(0),
            omem: AtomicU64::new(0),
            tot_mem: AtomicU64::new(0),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill: tokio::sync::Notify::new(),
            flags: AtomicU32::new(0),
            sub: AtomicU32::new(0),
            psub: AtomicU32::new(0),
            ssub: AtomicU32::new(0),
            multi: AtomicI64::new(-1),
            multi_mem: AtomicU64::new(0),
            rbs: AtomicU64::new(0),
            rbp: AtomicU64::new(0),
            user: Mutex::new("default".to_string()),
            waiter: Mutex::new(None),
        }
    }

    /// Records the open transaction for CLIENT LIST: `queued` commands of
    /// `mem` argument bytes, or `queued == -1` when none is open.
    pub fn set_multi(&self, queued: i64, mem: u64) {
        self.multi.store(queued, Ordering::Relaxed);
        self.multi_mem.store(mem, Ordering::Relaxed);
        if queued >= 0 {
            self.set_flag(cflags::MULTI);
        } else {
            self.clear_flag(cflags::MULTI);
        }
    }

    pub fn set_flag(&self, f: u32) {
        self.flags.fetch_or(f, Ordering::Relaxed);
    }

    pub fn clear_flag(&self, f: u32) {
        self.flags.fetch_and(!f, Ordering::Relaxed);
    }

    pub fn has_flag(&self, f: u32) -> bool {
        self.flags.load(Ordering::Relaxed) & f != 0
    }

    /// The class CLIENT LIST/KILL TYPE filters on (Redis's getClientType:
    /// MONITOR clients count as normal here, replicas as replica).
    pub fn client_type(&self) -> ClientType {
        let f = self.flags.load(Ordering::Relaxed);
        if f & cflags::REPLICA != 0 && f & cflags::MONITOR == 0 {
            ClientType::Replica
        } else if f & cflags::PUBSUB != 0 {
            ClientType::Pubsub
        } else if f & cflags::MASTER != 0 {
            ClientType::Master
        } else {
            ClientType::Normal
        }
    }

    /// Memory this connection holds (CLIENT LIST `tot-mem`, INFO
    /// `mem_clients_normal`): its state plus the buffer sizes it last
    /// reported.
    pub fn memory_estimate(&self) -> u64 {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let fixed = (std::mem::size_of::<ClientInfo>() + std::mem::size_of::<Client>()) as u64;
        let buffers = l(&self.qbuf)
            + l(&self.qbuf_free)
            + l(&self.argv_mem)
            + l(&self.multi_mem)
            + l(&self.rbs)
            + l(&self.omem);
        fixed + buffers.max(l(&self.tot_mem))
    }

    pub fn user_name(&self) -> String {
        self.user.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn lib_name(&self) -> Option<Bytes> {
        self.lib_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn lib_ver(&self) -> Option<Bytes> {
        self.lib_ver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets (or with an empty value clears) the connection name.
    pub fn set_name(&self, name: &[u8]) {
        *self.name.lock().unwrap_or_else(|e| e.into_inner()) =
            (!name.is_empty()).then(|| Bytes::copy_from_slice(name));
    }

    /// Asks the connection to close (CLIENT KILL).
    pub fn request_kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    pub fn set_last_cmd(&self, cmd: &'static Command) {
        self.last_cmd
            .store(cmd as *const Command as *mut Command, Ordering::Relaxed);
    }

    /// The last command's full name (`client|list`), or `NULL` before any.
    pub fn last_cmd_name(&self) -> &'static str {
        let p = self.last_cmd.load(Ordering::Relaxed);
        // SAFETY: the pointer is either null or was made from a
        // `&'static Command` in `set_last_cmd`, so it is valid forever.
        unsafe { p.as_ref() }.map_or("NULL", |c| c.name)
    }

    pub fn name(&self) -> Option<Bytes> {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Locks a mutex of client state, which holds plain data that a panic
/// cannot leave half-changed: a poisoned lock is used as it is.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every connected client, for CLIENT LIST/KILL and INFO clients. Touched on
/// connect and disconnect only, never on the command path.
#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// Total connections accepted (INFO stats).
    pub total_connections: AtomicU64,
    /// Connections refused because of maxclients (INFO stats).
    pub rejected_connections: AtomicU64,
}

impl ClientRegistry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn register(&self, info: Arc<ClientInfo>) {
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(info.id, info);
    }

    pub fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of all clients, ordered by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.lock().get(&id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// CLIENT PAUSE state. The fast path (no pause) is one relaxed load.
#[derive(Default)]
pub struct PauseState {
    active: AtomicBool,
    inner: Mutex<Option<Pause>>,
    pub resumed: tokio::sync::Notify,
}

#[derive(Clone, Copy, Debug)]
pub struct Pause {
    pub until_ms: u64,
    /// PAUSE ALL (true) or PAUSE WRITE (false).
    pub all: bool,
}

impl PauseState {
    pub fn pause(&self, p: Pause) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A new pause never shortens or weakens an existing one (as Redis);
        // one whose time is up no longer counts.
        let now = crate::util::time::now_ms();
        let merged = match *g {
            Some(old) if old.until_ms > now => Pause {
                until_ms: old.until_ms.max(p.until_ms),
                all: old.all || p.all,
            },
            _ => p,
        };
        *g = Some(merged);
        crate::store::hold_expiry_until(merged.until_ms);
        self.active.store(true, Ordering::Release);
    }

    pub fn unpause(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *g = None;
        crate::store::hold_expiry_until(0);
        drop(g);
        self.active.store(false, Ordering::Release);
        self.resumed.notify_waiters();
    }

    pub fn is_paused(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// If a command must wait, the time (ms) until which it must wait:
    /// every command during PAUSE ALL, one that `writes` during PAUSE WRITE.
    pub fn blocks(&self, writes: bool, now_ms: u64) -> Option<u64> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let p = (*g)?;
        if now_ms >= p.until_ms {
            return None;
        }
        (p.all || writes).then_some(p.until_ms)
    }
}
