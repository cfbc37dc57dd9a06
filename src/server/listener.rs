//! Accepting connections and the server's background tasks.

use super::{ClientInfo, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};

/// Binds every configured address, then serves until SHUTDOWN or a signal.
pub async fn run(shared: Arc<Shared>) -> std::io::Result<()> {
    // Handlers first: once the server says it is ready (pid file, READY=1, a daemon's
    // parent exiting), a SIGTERM must be a clean shutdown, not the default kill.
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        )
    };
    let port = shared.config.port();
    let mut listeners = Vec::new();
    if port != 0 {
        for spec in shared.config.bind() {
            let (optional, host) = match spec.strip_prefix('-') {
                Some(h) => (true, h.to_string()),
                None => (false, spec.clone()),
            };
            match bind_one(&host, port) {
                Ok(l) => listeners.push(l),
                Err(e) if optional => {
                    tracing::debug!(address = %host, error = %e, "skipping optional bind address");
                }
                Err(e) => {
                    tracing::error!(address = %host, port, error = %e, "could not bind");
                    // The context travels to a daemon's waiting parent, which prints it.
                    let why = format!("could not bind {host}:{port}: {e}");
                    return Err(std::io::Error::new(e.kind(), why));
                }
            }
        }
    }
    if listeners.is_empty() {
        tracing::warn!("not listening on any TCP address (port 0 or no bind address)");
    }
    for l in listeners {
        let shared = shared.clone();
        tokio::spawn(accept_loop(l, shared));
    }
    start_background(shared.clone());
    crate::metrics::start(&shared);
    tracing::info!("Ready to accept connections tcp");
    shared.lifecycle.ready();
    let signals = async {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
            _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
        }
    };
    tokio::select! {
        _ = signals => {}
        _ = shared.shutdown.notified() => {}
    }
    shared.lifecycle.stopping();
    tracing::warn!("Ferrite is now ready to exit, bye bye...");
    Ok(())
}

fn bind_one(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let host = match host {
        "*" => "0.0.0.0",
        "::*" => "::",
        h => h,
    };
    let ip: std::net::IpAddr = host.parse().map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid bind address '{host}'"),
        )
    })?;
    let addr = SocketAddr::new(ip, port);
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(511)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let laddr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let keepalive = shared.config.tcp_keepalive();
        if keepalive > 0 {
            let sock = socket2_keepalive(&stream, keepalive);
            if let Err(e) = sock {
                tracing::debug!(error = %e, "could not set TCP keepalive");
            }
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            if let Some(msg) = refuse_reason(&shared, &addr) {
                use tokio::io::AsyncWriteExt;
                let _ = stream.write_all(msg.as_bytes()).await;
                return;
            }
            #[cfg(unix)]
            let fd = {
                use std::os::fd::AsRawFd;
                stream.as_raw_fd() as i64
            };
            #[cfg(not(unix))]
            let fd = -1;
            let id = shared.clients.next_id();
            let info = Arc::new(ClientInfo::new(
                id,
                addr,
                stream.local_addr().unwrap_or(laddr),
                fd,
            ));
            shared.clients.register(info.clone());
            super::connection::serve(stream, shared.clone(), info).await;
            shared.clients.unregister(id);
        });
    }
}

/// Why a new connection must be refused, as the error line Redis sends.
fn refuse_reason(shared: &Shared, addr: &SocketAddr) -> Option<String> {
    if shared.clients.len() >= shared.config.maxclients() as usize {
        shared
            .clients
            .rejected_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Some("-ERR max number of clients reached\r\n".into());
    }
    if shared.config.protected_mode()
        && shared.config.requirepass().is_none()
        && !addr.ip().is_loopback()
    {
        return Some(PROTECTED_MODE_MSG.into());
    }
    None
}

const PROTECTED_MODE_MSG: &str = "-DENIED Ferrite is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Ferrite you may adopt one of the following solutions: 1) Disable protected mode by sending the command 'CONFIG SET protected-mode no' from the loopback interface, 2) set a password with 'requirepass <password>', or 3) start the server with '--protected-mode no'.\r\n";

fn socket2_keepalive(stream: &tokio::net::TcpStream, secs: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = stream.as_raw_fd();
        let on: libc::c_int = 1;
        let idle = secs.min(i32::MAX as u64) as libc::c_int;
        let intvl = (idle / 3).max(1);
        let cnt: libc::c_int = 3;
        for (level, opt, val) in [
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE, on),
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle),
            (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, intvl),
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, cnt),
        ] {
            // `fd` is a valid open socket owned by `stream` for this call.
            // SAFETY: valid fd; `val` is a live c_int of the size passed.
            let rc = unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    opt,
                    &val as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (stream, secs);
    Ok(())
}

/// Background work: active expiry on its own thread, so a long expiry cycle
/// never stalls a worker that is serving clients.
fn start_background(shared: Arc<Shared>) {
    std::thread::Builder::new()
        .name("ferrite-expire".into())
        .spawn(move || expire_loop(shared))
        .expect("spawn the active expiry thread");
}

/// Redis's active expiry: each cycle may use up to 25% of its period (more
/// with higher active-expire-effort), walking each database's expiry index
/// in rounds of 20 keys (more with effort) while the rounds keep finding
/// expired keys, so memory held by expired keys nobody reads is returned
/// promptly (`store::expiry`).
fn expire_loop(shared: Arc<Shared>) {
    loop {
        let hz = shared.config.hz().clamp(1, 500) as u64;
        let period = Duration::from_millis(1000 / hz);
        let effort = shared.config.active_expire_effort().clamp(1, 10);
        let budget = period * (25 + 2 * (effort - 1)) / 100;
        let keys_per_round = 20 + 5 * (effort as usize - 1);
        let acceptable_stale = 10 - (effort as usize - 1);
        let start = std::time::Instant::now();
        let n = shared.store.num_dbs();
        'outer: for idx in 0..n {
            // By handle, not under a pin: each cycle of 64 keys pins on its
            // own, so a long expiry run never holds back reclamation.
            let db = shared.store.db_arc(idx);
            db.maintain(Duration::from_millis(1));
            loop {
                let clock = crate::store::Clock::now();
                let round = db.expire_cycle(clock, keys_per_round);
                // As Redis: go on while more than 10% (less with more
                // effort) of the keys looked at had expired.
                let stale = round.expired * 100 > round.sampled * acceptable_stale;
                if !stale || start.elapsed() >= budget {
                    shared.store.release(db);
                    if !stale {
                        break;
                    }
                    break 'outer;
                }
            }
        }
        // Also drives reclamation on an idle server: frees what other
        // threads retired once nobody is pinned (`store::reclaim`).
        crate::store::reclaim::collect_now();
        std::thread::sleep(period.saturating_sub(start.elapsed()));
    }
}
