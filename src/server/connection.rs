//! One connection: read, parse every complete request in the buffer, execute
//! each in place on the shared store, then write all replies with one syscall.

use super::client::{cflags, ReplyMode};
use super::{Client, ClientInfo, Shared};
use crate::commands::blocking::{self, Blocked, Served};
use crate::commands::{self, multi, Command, Ctx, Handler, Unpinned};
use crate::protocol::parse::Limits;
use crate::protocol::{Parser, Reply};
use crate::store::stalled::{self, StalledHolder};
use crate::store::waiters::{Cancel, State};
use crate::store::{world, Clock};
use bytes::{Buf, BytesMut};
use crossbeam_epoch::{self as epoch, Guard};
use quanta::Instant;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod runs;

const READ_CHUNK: usize = 16 * 1024;
/// An empty read buffer larger than this is replaced by a fresh one.
const QUERY_BUF_KEEP: usize = 256 * 1024;
/// Buffers larger than this that a connection no longer needs are given
/// back once it has been idle for [`BUF_IDLE`], as Redis's client cron
/// resizes an idle client's query buffer: a pipelined batch grows them, and
/// without this every connection that ever sent one kept up to 256 KiB of
/// read buffer and 1 MiB of reply buffer for its whole life.
const BUF_IDLE_KEEP: usize = 64 * 1024;
const BUF_IDLE: Duration = Duration::from_secs(2);

/// Serves one accepted connection until it closes, errs, or is killed.
pub async fn serve(mut stream: TcpStream, shared: Arc<Shared>, info: Arc<ClientInfo>) {
    let authenticated = shared.config.requirepass().is_none();
    let mut client = Client::new(info.clone(), authenticated);
    let mut parser = Parser::new();
    // Parses the request after the current one, for runs on one key.
    let mut ahead = Parser::new();
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    // The largest the read buffer has been (`capacity` counts only from the
    // unread start, so an emptied buffer can hide a large allocation).
    let mut in_peak = READ_CHUNK;
    let mut out = Reply::new();
    // One wait for CLIENT KILL for the connection's life, shared by every
    // wait below: a `notified()` made per read registered and unregistered
    // a waiter under the `Notify`'s lock on every request (2% of the CPU at
    // `-P 1`). `notify_one` leaves a permit if it finds no waiter.
    let kill = info.kill.notified();
    tokio::pin!(kill);
    loop {
        if inbuf.capacity() - inbuf.len() < READ_CHUNK / 2 {
            inbuf.reserve(READ_CHUNK);
            in_peak = in_peak.max(inbuf.capacity());
        }
        let shrink_when_idle =
            (inbuf.is_empty() && in_peak > BUF_IDLE_KEEP) || out.buf.capacity() > BUF_IDLE_KEEP;
        let idle = shared.config.timeout();
        let read = async {
            if idle > 0 {
                match tokio::time::timeout(Duration::from_secs(idle), stream.read_buf(&mut inbuf))
                    .await
                {
                    Ok(r) => r.map(Some),
                    Err(_) => Ok(None),
                }
            } else {
                stream.read_buf(&mut inbuf).await.map(Some)
            }
        };
        let n = tokio::select! {
            r = read => Some(r),
            _ = kill.as_mut() => break,
            // An async block, so that a disabled branch reads no clock.
            _ = async { tokio::time::sleep(BUF_IDLE).await }, if shrink_when_idle => None,
        };
        let Some(n) = n else {
            if inbuf.is_empty() {
                inbuf = BytesMut::with_capacity(READ_CHUNK);
                in_peak = READ_CHUNK;
            }
            if out.is_empty() {
                out.buf = BytesMut::with_capacity(16 * 1024);
            }
            continue;
        };
        match n {
            Ok(Some(0)) | Err(_) => break,
            Ok(None) => {
                tracing::debug!(id = info.id, "closing idle client");
                break;
            }
            Ok(Some(n)) => {
                shared.stats.with_local(|t| t.net_input_bytes.add(n as u64));
            }
        }
        if info.killed.load(Ordering::Acquire) {
            break;
        }
        // One wall-clock read per batch; each command's time is derived from
        // the monotonic clock it needs anyway for INFO commandstats. That clock
        // is quanta's calibrated TSC: on VMs without a vDSO clock every
        // clock_gettime is a system call (7% of a SET on the development VM).
        let mut clock = BatchClock::start();
        info.last_interaction_ms.store(clock.ms, Ordering::Relaxed);
        let mut closing = false;
        loop {
            // Inside this thread's batch mark (`store::world`), never held
            // across an await: a transaction running alone waits for it.
            let end = loop {
                if world::enter() {
                    let end = run_batch(
                        &shared,
                        &mut client,
                        &mut parser,
                        &mut ahead,
                        &mut inbuf,
                        &mut out,
                        &mut clock,
                    );
                    world::exit();
                    break end;
                }
                if let Some(eval) = crate::scripting::busy::alone_busy() {
                    // A busy script runs alone: answer as Redis does while
                    // its script is busy.
                    break run_busy_batch(
                        &shared,
                        &mut client,
                        &mut parser,
                        &mut inbuf,
                        &mut out,
                        &mut clock,
                        eval,
                    );
                }
                wait_world().await;
                clock = BatchClock::start();
            };
            match end {
                BatchEnd::NeedInput => break,
                BatchEnd::Close => {
                    closing = true;
                    break;
                }
                BatchEnd::Blocked => {
                    // Replies so far go out before we wait.
                    if flush(&mut stream, &mut out, &shared.stats).await.is_err() {
                        closing = true;
                    }
                    let blocked = client.blocked.take().expect("a blocked batch parked");
                    if closing {
                        blocked.waiter.cancel(Cancel::Closed);
                    }
                    let (woke, close) = wait_blocked(
                        &mut stream,
                        &mut inbuf,
                        &shared,
                        &info,
                        &blocked,
                        kill.as_mut(),
                    )
                    .await;
                    // A connection already closing is closed either way.
                    let close = close || closing;
                    blocking::unpark(&shared, &mut client, &blocked.waiter);
                    let mark = out.len();
                    out.resp3 = client.resp == 3;
                    match woke {
                        Woke::Served(served) => {
                            blocking::reply_served(&mut out, &blocked.waiter.request.want, served)
                        }
                        Woke::Cancelled(Cancel::Timeout) => blocking::reply_timeout(&mut out),
                        Woke::Cancelled(Cancel::Error) => {
                            out.error(blocking::UNBLOCKED_ERROR);
                            shared
                                .stats
                                .record_error(blocking::UNBLOCKED_ERROR.as_bytes());
                            shared.stats.with_local(|t| t.error_replies.add(1));
                        }
                        Woke::Cancelled(Cancel::Closed) => {}
                    }
                    finish_reply(&mut client, &mut out, mark);
                    if close {
                        closing = true;
                        break;
                    }
                    clock = BatchClock::start();
                }
                BatchEnd::Paused(args, until) => {
                    // Replies so far go out before we wait, as in Redis.
                    if flush(&mut stream, &mut out, &shared.stats).await.is_err() {
                        closing = true;
                        break;
                    }
                    // A held-back client is a blocked one to INFO (`blocked_clients`) and
                    // CLIENT LIST (`b`), as Redis's postponed clients are.
                    info.set_flag(cflags::BLOCKED);
                    // CLIENT KILL must not wait for the pause to end.
                    let killed = tokio::select! {
                        _ = wait_pause(&shared, until) => false,
                        _ = kill.as_mut() => true,
                    };
                    info.clear_flag(cflags::BLOCKED);
                    if killed {
                        closing = true;
                        break;
                    }
                    while !world::enter() {
                        wait_world().await;
                    }
                    clock = BatchClock::start();
                    let mut pin = None;
                    let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    clock.run(&shared, &mut client, &mut out, &args, &mut pin);
                    drop(pin);
                    world::exit();
                    if client.close_after_reply {
                        closing = true;
                        break;
                    }
                }
            }
        }
        if !closing && inbuf.len() as u64 > shared.config.client_query_buffer_limit() {
            tracing::warn!(
                id = info.id,
                "closing client that reached max query buffer length"
            );
            closing = true;
        }
        if inbuf.is_empty() && inbuf.capacity() > QUERY_BUF_KEEP {
            // A large request left a large buffer behind; don't keep it for
            // the life of the connection (Redis shrinks its query buffer too).
            inbuf = BytesMut::with_capacity(READ_CHUNK);
            in_peak = READ_CHUNK;
        }
        info.qbuf.store(inbuf.len() as u64, Ordering::Relaxed);
        info.qbuf_free
            .store((inbuf.capacity() - inbuf.len()) as u64, Ordering::Relaxed);
        // Reply buffer size and the size of this batch's replies (CLIENT LIST rbs/rbp).
        info.rbs.store(out.buf.capacity() as u64, Ordering::Relaxed);
        info.rbp.store(out.len() as u64, Ordering::Relaxed);
        if !out.is_empty() && !closing {
            // Write after the worker's other ready connections have read and
            // run theirs (tokio runs a yielded task after its next I/O poll),
            // as Redis writes every client's replies once per event-loop turn:
            // the first send wakes a sleeping client, and the sends right
            // after it find that client awake. Sent at once, each reply woke
            // redis-benchmark anew and the wakeups took 21% of the worker's
            // CPU at -P 16; HSET -P 16 went from 0.66x to 0.97x redis-server.
            tokio::task::yield_now().await;
        }
        if flush(&mut stream, &mut out, &shared.stats).await.is_err() || closing {
            break;
        }
    }
    multi::unwatch_all(&mut client, &shared);
    let _ = stream.shutdown().await;
}

/// Why [`run_batch`] stopped.
enum BatchEnd {
    /// No complete request is left in the read buffer.
    NeedInput,
    /// The connection closes once the replies are written.
    Close,
    /// This command (its arguments copied out of the read buffer) must wait
    /// for CLIENT PAUSE to end before it runs.
    Paused(Vec<Vec<u8>>, u64),
    /// The last command parked the client (`Client::blocked`): the
    /// connection waits before it runs the next one.
    Blocked,
}

/// Time as a batch of pipelined commands sees it: one wall-clock read per
/// batch, and each command's time derived from the monotonic clock it reads
/// anyway for INFO commandstats. That clock is quanta's calibrated TSC: on VMs
/// without a vDSO clock every clock_gettime is a system call (it cost 7% of a
/// SET on the development VM).
struct BatchClock {
    ms: u64,
    start: Instant,
    last: Instant,
}

impl BatchClock {
    fn start() -> BatchClock {
        let start = Instant::now();
        BatchClock {
            ms: crate::util::time::now_ms(),
            start,
            last: start,
        }
    }

    /// The wall-clock time the next command runs at.
    fn now_ms(&self) -> u64 {
        self.ms + (self.last - self.start).as_millis() as u64
    }

    fn run(
        &mut self,
        shared: &Shared,
        client: &mut Client,
        out: &mut Reply,
        args: &[&[u8]],
        pin: &mut Option<Guard>,
    ) {
        let now_ms = self.now_ms();
        self.last = execute_timed(shared, client, out, args, now_ms, self.last, pin);
    }
}

/// Executes every complete request in `inbuf` under one epoch pin (pinning
/// once per batch rather than per command; a command that walks the keyspace
/// drops it and the next command pins again), without awaiting anything, then
/// drops the bytes of the requests it consumed. Arguments are slices of
/// `inbuf`.
fn run_batch(
    shared: &Shared,
    client: &mut Client,
    parser: &mut Parser,
    ahead: &mut Parser,
    inbuf: &mut BytesMut,
    out: &mut Reply,
    clock: &mut BatchClock,
) -> BatchEnd {
    let mut pin = None;
    let mut pos = 0;
    let mut prefetched = 0;
    let end = loop {
        // Queued commands of a transaction touch no key until EXEC.
        if pos >= prefetched && client.tx.is_none() {
            prefetched = pos + prefetch(shared, client, &inbuf[pos..], &mut pin);
        }
        match parser.parse(inbuf, pos, request_limits(shared, client)) {
            Ok(Some(next)) => {
                pos = next;
                let args = parser.args(inbuf);
                if args.is_empty() {
                    continue;
                }
                if let Some(until) = pause_for(shared, client, &args) {
                    break BatchEnd::Paused(args.iter().map(|a| a.to_vec()).collect(), until);
                }
                if runs::starts_run(client, &args, &inbuf[pos..]) {
                    drop(args);
                    let end = pos;
                    match runs::run(
                        shared, client, parser, ahead, inbuf, end, out, clock, &mut pin,
                    ) {
                        runs::RunEnd::Ran(p) => {
                            pos = p;
                            if client.close_after_reply {
                                break BatchEnd::Close;
                            }
                            continue;
                        }
                        runs::RunEnd::FirstBusy => {}
                    }
                    let args = parser.args(inbuf);
                    clock.run(shared, client, out, &args, &mut pin);
                } else {
                    clock.run(shared, client, out, &args, &mut pin);
                }
                if client.close_after_reply {
                    break BatchEnd::Close;
                }
                if client.blocked.is_some() {
                    break BatchEnd::Blocked;
                }
            }
            Ok(None) => break BatchEnd::NeedInput,
            Err(e) => {
                out.error(&format!("ERR {}", e.0));
                tracing::debug!(id = client.id, error = %e.0, "protocol error, closing client");
                break BatchEnd::Close;
            }
        }
    };
    inbuf.advance(pos);
    end
}

/// What the parser allows this client's next request.
fn request_limits(shared: &Shared, client: &Client) -> Limits {
    Limits {
        max_bulk_len: shared.config.proto_max_bulk_len(),
        authenticated: client.authenticated,
    }
}

/// [`run_batch`] while a busy script runs alone (every other client
/// stopped, `scripting::busy`): the commands Redis allows then (SCRIPT
/// KILL, SHUTDOWN NOSAVE, connection commands: `allow_busy` and no keys)
/// run, the others answer `-BUSY`. Nothing here touches the keyspace.
fn run_busy_batch(
    shared: &Shared,
    client: &mut Client,
    parser: &mut Parser,
    inbuf: &mut BytesMut,
    out: &mut Reply,
    clock: &mut BatchClock,
    eval: bool,
) -> BatchEnd {
    let mut pin = None;
    let mut pos = 0;
    let end = loop {
        match parser.parse(inbuf, pos, request_limits(shared, client)) {
            Ok(Some(next)) => {
                pos = next;
                let args = parser.args(inbuf);
                if args.is_empty() {
                    continue;
                }
                let allowed = resolve(client, &args)
                    .is_ok_and(|(cmd, _)| cmd.has(commands::flags::ALLOW_BUSY) && !cmd.has_keys());
                if allowed {
                    clock.run(shared, client, out, &args, &mut pin);
                } else {
                    let mark = out.len();
                    out.resp3 = client.resp == 3;
                    reject_busy(shared, client, out, &args, mark, eval);
                }
                if client.close_after_reply {
                    break BatchEnd::Close;
                }
            }
            Ok(None) => break BatchEnd::NeedInput,
            Err(e) => {
                out.error(&format!("ERR {}", e.0));
                break BatchEnd::Close;
            }
        }
    };
    inbuf.advance(pos);
    end
}

/// Requests of a pipelined batch whose keys are prefetched together.
const PREFETCH_WINDOW: usize = 16;

/// Prefetches the keys of the next [`PREFETCH_WINDOW`] pipelined requests in
/// `buf` (`Keyspace::prefetch`), if there are at least two; returns how many
/// bytes of `buf` those requests take (0 when nothing was prefetched). The
/// batch pins here, earlier than its first command would.
fn prefetch(shared: &Shared, client: &Client, buf: &[u8], pin: &mut Option<Guard>) -> usize {
    let mut keys: [&[u8]; PREFETCH_WINDOW] = [&[]; PREFETCH_WINDOW];
    let mut n = 0;
    let (requests, len) = crate::protocol::peek::second_args(buf, PREFETCH_WINDOW, |k| {
        keys[n] = k;
        n += 1;
    });
    if requests < 2 {
        return 0;
    }
    let guard = pin.get_or_insert_with(epoch::pin);
    shared
        .store
        .db(client.db, guard)
        .prefetch(&keys[..n], guard);
    len
}

async fn flush(
    stream: &mut TcpStream,
    out: &mut Reply,
    stats: &super::stats::Stats,
) -> std::io::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    stats.with_local(|t| t.net_output_bytes.add(out.len() as u64));
    let r = stream.write_all(&out.buf).await;
    out.buf.clear();
    if out.buf.capacity() > 1024 * 1024 {
        // Do not keep a huge reply buffer around after a large reply.
        out.buf = BytesMut::with_capacity(16 * 1024);
    }
    r
}

/// How a blocked client stopped waiting.
enum Woke {
    Served(Served),
    Cancelled(Cancel),
}

/// Waits until `blocked` is served, its deadline passes, CLIENT UNBLOCK
/// cancels it, or its connection is killed or closed by the peer; reads
/// what the client pipelines meanwhile into `inbuf`. The flag says whether
/// the connection must close.
async fn wait_blocked(
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    shared: &Shared,
    info: &ClientInfo,
    blocked: &Blocked,
    mut kill: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> (Woke, bool) {
    let w = &blocked.waiter;
    let mut close = false;
    loop {
        match w.state() {
            // Claimed: its result is delivered, or about to be (the wake
            // follows the delivery).
            State::Claimed => {
                if let Some(served) = w.take() {
                    return (Woke::Served(served), close);
                }
            }
            State::Cancelled(why) => return (Woke::Cancelled(why), close),
            State::Waiting => {}
        }
        let deadline = async {
            if blocked.deadline_ms == 0 || close {
                std::future::pending::<()>().await;
            }
            let now = crate::util::time::now_ms();
            let wait = blocked.deadline_ms.saturating_sub(now);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        };
        let read = async {
            if close {
                std::future::pending::<()>().await;
            }
            if inbuf.capacity() - inbuf.len() < READ_CHUNK / 2 {
                inbuf.reserve(READ_CHUNK);
            }
            stream.read_buf(inbuf).await
        };
        tokio::select! {
            _ = w.request.wake.notified() => {}
            _ = deadline => {
                w.cancel(Cancel::Timeout);
            }
            _ = kill.as_mut(), if !close => {
                close = true;
                w.cancel(Cancel::Closed);
            }
            r = read => match r {
                Ok(0) | Err(_) => {
                    close = true;
                    w.cancel(Cancel::Closed);
                }
                Ok(n) => {
                    shared.stats.with_local(|t| t.net_input_bytes.add(n as u64));
                    if inbuf.len() as u64 > shared.config.client_query_buffer_limit() {
                        tracing::warn!(
                            id = info.id,
                            "closing blocked client that reached max query buffer length"
                        );
                        close = true;
                        w.cancel(Cancel::Closed);
                    }
                }
            },
        }
        if info.killed.load(Ordering::Acquire) && !close {
            close = true;
            w.cancel(Cancel::Closed);
        }
    }
}

/// Waits while a transaction runs alone (`store::world`): they are short,
/// so a few yields, then millisecond naps.
async fn wait_world() {
    let mut turns = 0;
    while world::stopped() && crate::scripting::busy::alone_busy().is_none() {
        if turns < 16 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        turns += 1;
    }
}

/// If CLIENT PAUSE holds `args` back, until when. As in Redis, a command
/// that is refused anyway (unknown, wrong arity, NOAUTH, not allowed in
/// MULTI) is answered at once, and a write sent inside MULTI waits too
/// (the check comes before queuing); EXEC waits if its transaction queued
/// a write.
fn pause_for(shared: &Shared, client: &Client, args: &[&[u8]]) -> Option<u64> {
    if !shared.pause.is_paused() {
        return None;
    }
    let cmd = commands::resolve(args).ok()?;
    if !client.authenticated && !cmd.has(commands::flags::NO_AUTH) {
        return None;
    }
    let writes = match &client.tx {
        Some(_) if cmd.has(commands::flags::NO_MULTI) && !multi::runs_in_multi(cmd) => return None,
        Some(tx) if cmd.name == "exec" => tx.writes(shared),
        _ => commands::scripting::counts_as_write(shared, cmd, args),
    };
    shared.pause.blocks(writes, crate::util::time::now_ms())
}

async fn wait_pause(shared: &Shared, until_ms: u64) {
    loop {
        let now = crate::util::time::now_ms();
        if now >= until_ms || !shared.pause.is_paused() {
            return;
        }
        let wait = Duration::from_millis(until_ms - now);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.pause.resumed.notified() => {}
        }
    }
}

/// Commands with more arguments than this run as long commands (see
/// `execute_timed`): by then the command's own work dwarfs the cost of
/// handing the worker's other connections to another thread.
const LONG_COMMAND_ARGS: usize = 1024;

/// Executes one command and appends its reply to `out`. Used by connections
/// and, later, by MULTI/EXEC and scripts.
pub fn execute(shared: &Shared, client: &mut Client, out: &mut Reply, args: &[&[u8]]) {
    execute_timed(
        shared,
        client,
        out,
        args,
        crate::util::time::now_ms(),
        Instant::now(),
        &mut None,
    );
}

/// [`execute`] with the caller's notion of now: `now_ms` for expiry decisions
/// and `start` for the command's duration. Returns the instant it finished,
/// which a pipelined batch uses as the next command's start. `pin` is the
/// batch's epoch pin, taken here when the first command needs it.
fn execute_timed(
    shared: &Shared,
    client: &mut Client,
    out: &mut Reply,
    args: &[&[u8]],
    now_ms: u64,
    start: Instant,
    pin: &mut Option<Guard>,
) -> Instant {
    let mark = out.len();
    out.resp3 = client.resp == 3;
    let (cmd, stat_id) = match resolve(client, args) {
        Ok(hit) => hit,
        Err(msg) => {
            out.error(&msg);
            multi::flag_error(client);
            record_rejected(shared, args, out, mark);
            finish_reply(client, out, mark);
            return Instant::now();
        }
    };
    if !client.authenticated && !cmd.has(commands::flags::NO_AUTH) {
        out.error(commands::errors::NOAUTH);
        multi::flag_error(client);
        record_rejected(shared, args, out, mark);
        finish_reply(client, out, mark);
        return Instant::now();
    }
    if client.tx.is_some() && !multi::runs_in_multi(cmd) {
        if cmd.has(commands::flags::NO_MULTI) {
            out.error("ERR Command not allowed inside a transaction");
            multi::flag_error(client);
            record_rejected(shared, args, out, mark);
        } else {
            multi::enqueue(client, cmd, stat_id, args);
            out.simple("QUEUED");
        }
        finish_reply(client, out, mark);
        return Instant::now();
    }
    client.info.set_last_cmd(cmd);
    let clock = commands::command_clock(client.no_touch, cmd, Clock::at(now_ms));
    let run = || match cmd.handler {
        Handler::Pinned(handler) => {
            let guard = pin.get_or_insert_with(epoch::pin);
            let mut ctx = Ctx::new(shared, &mut *client, &mut *out, guard, clock);
            handler(&mut ctx, args);
            // The command's latches are released: serve what it made ready.
            if client.blocked.is_some() {
                blocking::recheck_after_park(shared, client, guard);
            }
            if !client.ready.is_empty() {
                blocking::serve_ready(shared, client, guard, clock);
            }
        }
        Handler::Unpinned(handler) => {
            *pin = None;
            let mut ctx = Unpinned {
                shared,
                client: &mut *client,
                out: &mut *out,
                clock,
            };
            handler(&mut ctx, args);
        }
    };
    // KEYS walks a whole database; SCAN is bounded by its COUNT, usually
    // small, so it does not pay for the hand-off.
    let long = args.len() > LONG_COMMAND_ARGS || cmd.name == "keys";
    // Waits on a busy script's latches unwind (`store::stalled`).
    let run = || stalled::abortable(run);
    let ran = if long && crate::util::on_runtime_worker() {
        // A long command (an MSET of 50,000 keys, KEYS over a large
        // database) would hold up the connections queued on this worker,
        // some of which the other workers cannot steal (tokio's LIFO slot):
        // hand them to another thread for the duration.
        tokio::task::block_in_place(|| std::panic::catch_unwind(AssertUnwindSafe(run)))
    } else {
        std::panic::catch_unwind(AssertUnwindSafe(run))
    };
    if let Err(panic) = ran {
        if let Some(busy) = panic.downcast_ref::<StalledHolder>() {
            // It needed a key a busy script holds: its latches rolled back,
            // and it answers as Redis answers while a script is busy.
            out.truncate(mark);
            client.deny_blocking = false;
            client.ready.clear();
            reject_busy(shared, client, out, args, mark, busy.eval);
            return Instant::now();
        }
        // Every latch the command held was released by unwinding, with its
        // key left as before the command (`Locked` rolls back when dropped
        // during a panic). The reply may be half-written: drop it and close
        // this connection; every other client carries on.
        let what = panic_message(&*panic);
        tracing::error!(
            id = client.id,
            command = cmd.name,
            panic = %what,
            "command panicked; its keys are unchanged, closing the client"
        );
        out.truncate(mark);
        client.close_after_reply = true;
        return Instant::now();
    }
    record(shared, client, out, mark, start, stat_id)
}

/// Answers `-BUSY` (a busy script holds what the command needs, or stops
/// every client), counted as a rejected command. EXEC is aborted with the
/// reason, as Redis's `execCommandAbort` does.
fn reject_busy(
    shared: &Shared,
    client: &mut Client,
    out: &mut Reply,
    args: &[&[u8]],
    mark: usize,
    eval: bool,
) {
    let busy = crate::scripting::busy::busy_error(eval);
    if commands::lookup(args[0]).is_some_and(|c| c.name == "exec") {
        // As Redis's `execCommandAbort`: the transaction (which EXEC may
        // have taken already) is discarded with the reason.
        out.error(&format!(
            "EXECABORT Transaction discarded because of: {busy}"
        ));
        multi::end(client, shared);
    } else {
        out.error(busy);
        multi::flag_error(client);
    }
    record_rejected(shared, args, out, mark);
    finish_reply(client, out, mark);
}

/// The command `args` names (the client's last command when it is the same
/// one again), with its statistics index, or the error reply's text.
fn resolve(client: &mut Client, args: &[&[u8]]) -> Result<(&'static Command, usize), String> {
    let cached = client
        .last_command
        .filter(|(c, _)| args[0].eq_ignore_ascii_case(c.name.as_bytes()) && c.arity_ok(args.len()));
    if let Some(hit) = cached {
        return Ok(hit);
    }
    commands::resolve(args).map(|c| {
        let id = commands::stat_id(c);
        // The cache matches by the command's own name, so a command that
        // `rename-command` moved to another name is never cached.
        if c.subcommands.is_empty() && !c.name.contains('|') && commands::answers_to_own_name(c) {
            client.last_command = Some((c, id));
        }
        (c, id)
    })
}

/// Counts a finished command in INFO's statistics and applies CLIENT REPLY
/// to its reply (written from `mark` on); returns when it finished.
fn record(
    shared: &Shared,
    client: &mut Client,
    out: &mut Reply,
    mark: usize,
    start: Instant,
    stat_id: usize,
) -> Instant {
    let end = Instant::now();
    let usec = (end - start).as_micros() as u64;
    if std::mem::take(&mut client.error_counted) {
        count_command_counted(shared, out, mark, usec, stat_id);
    } else {
        count_command(shared, out, mark, usec, stat_id);
    }
    finish_reply(client, out, mark);
    end
}

/// Counts a command that ran in INFO's statistics (commandstats, errors);
/// its reply starts at `mark`. Also for the commands of a transaction or a
/// script.
pub fn count_command(shared: &Shared, out: &Reply, mark: usize, usec: u64, stat_id: usize) {
    count(shared, out, mark, usec, stat_id, false);
}

/// [`count_command`] for a command whose error reply was already counted
/// (a script's error raised by one of its calls): the command failed, but
/// the error is not counted again.
pub fn count_command_counted(shared: &Shared, out: &Reply, mark: usize, usec: u64, stat_id: usize) {
    count(shared, out, mark, usec, stat_id, true);
}

/// Counts a command that a script called and that was refused before it
/// ran (unknown, wrong arity, not allowed in scripts): `msg` is the error.
pub fn count_refused(shared: &Shared, cmd: Option<&Command>, msg: &[u8]) {
    shared.stats.record_error(msg);
    shared.stats.with_local(|t| {
        if let Some(cmd) = cmd {
            t.command(cmd).rejected_calls.add(1);
        }
        t.error_replies.add(1);
    });
}

fn count(shared: &Shared, out: &Reply, mark: usize, usec: u64, stat_id: usize, counted: bool) {
    let failed = out.buf.get(mark) == Some(&b'-');
    if failed && !counted {
        let end = out.buf[mark..]
            .iter()
            .position(|b| *b == b'\r')
            .map_or(out.len(), |p| mark + p);
        shared.stats.record_error(&out.buf[mark + 1..end]);
    }
    shared.stats.with_local(|t| {
        t.processed.add(1);
        let c = &t.commands[stat_id];
        c.calls.add(1);
        c.usec.add(usec);
        if failed {
            c.failed_calls.add(1);
            if !counted {
                t.error_replies.add(1);
            }
        }
    });
}

/// The text a panic was raised with, for the log.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn record_rejected(shared: &Shared, args: &[&[u8]], out: &Reply, mark: usize) {
    let end = out.buf[mark..]
        .iter()
        .position(|b| *b == b'\r')
        .map_or(out.len(), |p| mark + p);
    shared.stats.record_error(&out.buf[mark + 1..end]);
    // Every refused command is an error reply (INFO total_error_replies); a
    // known one is also counted as rejected, on the subcommand when one was
    // named (as Redis: `client id x` counts against client|id).
    let cmd = commands::lookup_line(args).or_else(|| commands::lookup(args[0]));
    shared.stats.with_local(|t| {
        t.processed.add(1);
        if let Some(cmd) = cmd {
            t.command(cmd).rejected_calls.add(1);
        }
        t.error_replies.add(1);
    });
}

/// Applies CLIENT REPLY OFF/SKIP to the reply just written.
fn finish_reply(client: &mut Client, out: &mut Reply, mark: usize) {
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => out.truncate(mark),
        ReplyMode::Skip => {
            out.truncate(mark);
            client.reply_mode = ReplyMode::On;
        }
        ReplyMode::SkipNext => client.reply_mode = ReplyMode::Skip,
    }
}
