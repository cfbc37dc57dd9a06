//! The access path run for real: handlers from the command table, driven
//! through a context that holds latches (as EXEC and scripts will), and the
//! latched read path for values changed in place.

use super::*;
use crate::commands::Handler;
use crate::config::Config;
use crate::server::ClientInfo;
use crate::store::latch::LATCHED;
use crossbeam_epoch as epoch;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

fn server() -> (Shared, Client) {
    let shared = Shared::new(
        Arc::new(Config::new()),
        None,
        1,
        crate::process::Lifecycle::detached(),
    );
    let addr = "127.0.0.1:1".parse().expect("address");
    let client = Client::new(Arc::new(ClientInfo::new(1, addr, addr, -1)), true);
    (shared, client)
}

/// Runs one command line through its real handler; returns its reply.
fn run(ctx: &mut Ctx, line: &[&str]) -> String {
    let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
    let cmd = crate::commands::resolve(&args).expect("a known command");
    let mark = ctx.out.len();
    match cmd.handler {
        Handler::Pinned(handler) => handler(ctx, &args),
        Handler::Unpinned(_) => panic!("{} walks the keyspace", cmd.name),
    }
    String::from_utf8_lossy(&ctx.out.buf[mark..]).into_owned()
}

/// Runs `f` on its own thread and fails if it has not finished in 20 s: a
/// handler that latched a key its context already holds would wait forever.
fn within_deadline(f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(20)) {
        Ok(()) => worker.join().expect("test body"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: a held key was latched again"),
    }
}

fn latched(shared: &Shared, key: &[u8]) -> bool {
    let guard = epoch::pin();
    let stamp = shared.store.db(0, &guard).stamp_of(key, &guard);
    stamp.is_some_and(|s| s & LATCHED != 0)
}

/// The committed value of `key`, read as another client would.
fn committed(shared: &Shared, key: &[u8]) -> Option<Vec<u8>> {
    let guard = epoch::pin();
    let view = shared.store.db(0, &guard).get(key, Clock::now(), &guard)?;
    Some(
        view.value()
            .expect("copy-on-write")
            .as_str()
            .expect("a string")
            .bytes()
            .into_owned(),
    )
}

#[test]
fn handlers_run_on_held_latches_and_publish_when_the_holder_drops() {
    within_deadline(|| {
        let (shared, mut client) = server();
        let mut out = Reply::new();
        let guard = epoch::pin();
        let clock = Clock::now();
        let declared: Vec<(usize, &[u8])> = [&b"k"[..], b"n", b"a", b"b", b"gone"]
            .iter()
            .map(|k| (0, *k))
            .collect();
        {
            let mut ctx = Ctx::new(&shared, &mut client, &mut out, &guard, clock);
            assert_eq!(run(&mut ctx, &["SET", "gone", "x"]), "+OK\r\n");
        }
        let mut held = HeldKeys::latch(&shared.store, &declared, clock, &guard);
        {
            let mut ctx = Ctx::with_held(&shared, &mut client, &mut out, &guard, clock, &mut held);
            assert!(ctx.keys.in_held());
            assert_eq!(run(&mut ctx, &["SET", "k", "v1"]), "+OK\r\n");
            // Reads go through the held latch and see the uncommitted write.
            assert_eq!(run(&mut ctx, &["GET", "k"]), "$2\r\nv1\r\n");
            assert_eq!(run(&mut ctx, &["STRLEN", "k"]), ":2\r\n");
            assert_eq!(run(&mut ctx, &["GETSET", "k", "v2"]), "$2\r\nv1\r\n");
            assert_eq!(run(&mut ctx, &["APPEND", "k", "!"]), ":3\r\n");
            assert_eq!(run(&mut ctx, &["INCR", "n"]), ":1\r\n");
            assert_eq!(run(&mut ctx, &["INCRBY", "n", "41"]), ":42\r\n");
            assert_eq!(run(&mut ctx, &["MSET", "a", "1", "b", "2"]), "+OK\r\n");
            assert_eq!(
                run(&mut ctx, &["MGET", "a", "b", "k", "n"]),
                "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$3\r\nv2!\r\n$2\r\n42\r\n"
            );
            assert_eq!(run(&mut ctx, &["DEL", "gone"]), ":1\r\n");
            assert_eq!(run(&mut ctx, &["EXISTS", "gone", "a", "a"]), ":2\r\n");
            assert_eq!(run(&mut ctx, &["TYPE", "k"]), "+string\r\n");
            assert_eq!(run(&mut ctx, &["EXPIRE", "a", "100"]), ":1\r\n");
            assert_eq!(run(&mut ctx, &["TTL", "a"]), ":100\r\n");
            assert_eq!(run(&mut ctx, &["PERSIST", "a"]), ":1\r\n");
            // A key not declared up front, free: try-latched, then held.
            assert_eq!(run(&mut ctx, &["RENAME", "b", "c"]), "+OK\r\n");
            assert_eq!(run(&mut ctx, &["GET", "c"]), "$1\r\n2\r\n");
            assert!(ctx.keys.busy().is_none());
        }
        assert!(held.holds(0, b"c"));
        // Nothing is published yet: every key is still latched.
        for key in [&b"k"[..], b"n", b"a", b"c"] {
            assert!(latched(&shared, key), "{key:?} latched");
        }
        drop(held);
        for (key, value) in [
            (&b"k"[..], Some(&b"v2!"[..])),
            (b"n", Some(b"42")),
            (b"a", Some(b"1")),
            (b"b", None),
            (b"c", Some(b"2")),
            (b"gone", None),
        ] {
            assert!(!latched(&shared, key));
            assert_eq!(committed(&shared, key).as_deref(), value, "{key:?}");
        }
        let mut ctx = Ctx::new(&shared, &mut client, &mut out, &guard, Clock::now());
        assert_eq!(run(&mut ctx, &["TTL", "a"]), ":-1\r\n");
        assert_eq!(run(&mut ctx, &["DBSIZE"]), ":4\r\n");
    });
}

#[test]
fn a_key_another_client_holds_is_busy_not_waited_for() {
    within_deadline(|| {
        let (shared, mut client) = server();
        let mut out = Reply::new();
        let (locked, wait_locked) = mpsc::channel();
        let (release, wait_release) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            // Another client holds `x` until told to let go.
            let shared = &shared;
            let other = s.spawn(move || {
                let guard = epoch::pin();
                let mut latch = shared.store.db(0, &guard).lock(b"x", Clock::now(), &guard);
                locked.send(()).expect("signal");
                wait_release.recv().expect("release");
                latch.set(Value::Str(crate::types::Str::from_arg(b"theirs")));
            });
            wait_locked.recv().expect("latched");
            let guard = epoch::pin();
            let clock = Clock::now();
            let mut held = HeldKeys::latch(&shared.store, &[(0, &b"k"[..])], clock, &guard);
            {
                let mut ctx =
                    Ctx::with_held(shared, &mut client, &mut out, &guard, clock, &mut held);
                assert_eq!(run(&mut ctx, &["SET", "k", "mine"]), "+OK\r\n");
                let busy = Some(BusyKey {
                    db: 0,
                    key: Some(b"x".to_vec()),
                });
                // Writes, reads and multi-key commands stop without a reply.
                for line in [
                    &["SET", "x", "1"][..],
                    &["GET", "x"],
                    &["MSET", "k", "changed", "x", "2"],
                    &["MGET", "k", "x"],
                ] {
                    ctx.keys.busy = None;
                    assert_eq!(run(&mut ctx, line), "", "{line:?}");
                    assert_eq!(ctx.keys.busy(), busy.as_ref(), "{line:?}");
                }
                // The multi-key write changed nothing before giving up.
                assert_eq!(run(&mut ctx, &["GET", "k"]), "$4\r\nmine\r\n");
                ctx.keys.busy = None;
                assert_eq!(run(&mut ctx, &["RANDOMKEY"]), "");
                assert_eq!(ctx.keys.busy().map(|b| b.key.is_none()), Some(true));
            }
            release.send(()).expect("release");
            other.join().expect("other client");
            // Free now: the retry try-latches it and holds it from then on.
            let mut ctx = Ctx::with_held(shared, &mut client, &mut out, &guard, clock, &mut held);
            assert_eq!(run(&mut ctx, &["GET", "x"]), "$6\r\ntheirs\r\n");
            assert_eq!(run(&mut ctx, &["SET", "x", "mine"]), "+OK\r\n");
            drop(ctx);
            assert!(held.holds(0, b"x"));
            drop(held);
        });
        assert_eq!(committed(&shared, b"x").as_deref(), Some(&b"mine"[..]));
        assert_eq!(committed(&shared, b"k").as_deref(), Some(&b"mine"[..]));
    });
}

#[test]
fn values_changed_in_place_are_read_under_their_latch() {
    within_deadline(|| {
        let (shared, mut client) = server();
        let mut out = Reply::new();
        let guard = epoch::pin();
        let mut ctx = Ctx::new(&shared, &mut client, &mut out, &guard, Clock::now());
        assert_eq!(
            run(&mut ctx, &["SET", "a", "hello", "EX", "100"]),
            "+OK\r\n"
        );
        assert_eq!(run(&mut ctx, &["SET", "b", "12"]), "+OK\r\n");
        let stamp = |key: &[u8]| {
            let g = epoch::pin();
            shared.store.db(0, &g).stamp_of(key, &g)
        };
        let before = (stamp(b"a"), stamp(b"b"));

        // Copy-on-write values (every type today) are read lock-free.
        let read = ctx
            .keys
            .read(b"a")
            .expect("no held keys")
            .expect("a exists");
        assert!(!latched(&shared, b"a"));
        drop(read);

        // A value changed in place is read under its latch, and only then.
        ctx.keys.latch_every_read = true;
        let read = ctx
            .keys
            .read(b"a")
            .expect("no held keys")
            .expect("a exists");
        assert!(latched(&shared, b"a"));
        assert_eq!(read.value().as_str().map(|s| s.len()), Some(5));
        assert!(read.expire().is_some());
        drop(read);
        assert!(!latched(&shared, b"a"));
        let reads = ctx
            .keys
            .read_many(&[b"a", b"nope", b"b"])
            .expect("no held keys");
        assert!(latched(&shared, b"a") && latched(&shared, b"b"));
        assert_eq!(reads.found(), 2);
        assert!(reads.get(1).is_none());
        drop(reads);
        assert!(ctx.keys.read(b"nope").expect("no held keys").is_none());

        // The handlers answer exactly as on the lock-free path.
        for (line, reply) in [
            (&["GET", "a"][..], "$5\r\nhello\r\n"),
            (&["STRLEN", "a"], ":5\r\n"),
            (&["GETRANGE", "a", "1", "2"], "$2\r\nel\r\n"),
            (
                &["MGET", "a", "nope", "b"],
                "*3\r\n$5\r\nhello\r\n$-1\r\n$2\r\n12\r\n",
            ),
            (&["EXISTS", "a", "b", "nope"], ":2\r\n"),
            (&["TOUCH", "a", "nope"], ":1\r\n"),
            (&["TYPE", "b"], "+string\r\n"),
            (&["TTL", "b"], ":-1\r\n"),
            (&["TTL", "nope"], ":-2\r\n"),
            (&["OBJECT", "ENCODING", "b"], "$3\r\nint\r\n"),
            (&["LCS", "a", "b"], "$0\r\n\r\n"),
        ] {
            assert_eq!(run(&mut ctx, line), reply, "{line:?}");
            ctx.keys.latch_every_read = false;
            assert_eq!(run(&mut ctx, line), reply, "{line:?} lock-free");
            ctx.keys.latch_every_read = true;
        }
        // Reading under the latch changes no version (WATCH sees no write).
        assert_eq!((stamp(b"a"), stamp(b"b")), before);
        assert!(!latched(&shared, b"a") && !latched(&shared, b"b"));
        assert!(stamp(b"nope").is_none());
    });
}

/// Handlers reach keys only through `ctx.keys`: no command file calls the
/// store's key methods itself (walks of unpinned commands aside).
#[test]
fn handlers_reach_keys_only_through_the_context() {
    let files = [
        ("client.rs", include_str!("../client.rs")),
        ("connection.rs", include_str!("../connection.rs")),
        ("db.rs", include_str!("../db.rs")),
        ("introspection.rs", include_str!("../introspection.rs")),
        ("keys.rs", include_str!("../keys.rs")),
        ("mod.rs", include_str!("../mod.rs")),
        ("object.rs", include_str!("../object.rs")),
        ("server.rs", include_str!("../server.rs")),
        ("strings.rs", include_str!("../strings.rs")),
        ("table.rs", include_str!("../table.rs")),
        ("testing.rs", include_str!("../testing.rs")),
    ];
    let forbidden = [
        ".lock_existing(",
        ".try_lock(",
        ".stamp_of(",
        "lock_many",
        "store::read_many",
        "db().get(",
        "db().random_key(",
        "store.table(",
        "keys.keyspace(",
        "&Keyspace",
        "Keyspace,",
        "Keyspace}",
        "LockSet",
    ];
    for (name, text) in files {
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let at = format!("src/commands/{name}:{}: {code}", n + 1);
            for f in forbidden {
                assert!(!code.contains(f), "{at}: `{f}` bypasses ctx.keys");
            }
            // `Mutex::lock()` is fine; the store's `lock(key, ..)` is not.
            assert!(
                code.split(".lock(")
                    .skip(1)
                    .all(|rest| rest.starts_with(')')),
                "{at}: a key latched without ctx.keys"
            );
            assert!(
                code.split("read_many(").count() == code.split("keys.read_many(").count(),
                "{at}: store read_many"
            );
        }
    }
}
