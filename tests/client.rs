//! Connection management: CLIENT (every subcommand), HELLO, AUTH, SELECT, PING,
//! ECHO, QUIT and RESET — differential tests of replies and error texts against
//! a real redis-server, and behaviour tests (kill really closes, pause really
//! holds writes, reply modes, no-touch, RESP3 switch, requirepass).

mod common;

use common::{Differential, Reply, Server};
use std::time::{Duration, Instant};

fn int_of(raw: &[u8]) -> i64 {
    Reply::from_raw(raw)
        .as_int()
        .unwrap_or_else(|| panic!("not an integer: {}", common::fmt_reply(raw)))
}

fn text_of(raw: &[u8]) -> String {
    let r = Reply::from_raw(raw);
    String::from_utf8_lossy(r.as_bytes().unwrap_or_else(|| panic!("not a string: {r}")))
        .into_owned()
}

/// `field=value` of a CLIENT LIST / CLIENT INFO line.
fn client_field<'a>(line: &'a str, field: &str) -> &'a str {
    line.trim_end()
        .split(' ')
        .find_map(|kv| kv.strip_prefix(field).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {field}= in {line}"))
}

#[test]
fn diff_client_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        CLIENT
        CLIENT foo
        CLIENT id x
        CLIENT getname x
        CLIENT setname
        CLIENT setname "a b"
        CLIENT setname "a\nb"
        CLIENT setname ""
        CLIENT getname
        CLIENT setname foo
        CLIENT getname
        CLIENT setname ""
        CLIENT getname
        CLIENT list type
        CLIENT list type foo
        CLIENT list id
        CLIENT list id abc
        CLIENT list id 1 abc
        CLIENT list id 99999
        CLIENT list id 99998 99999
        CLIENT list id -5
        CLIENT list foo bar
        CLIENT list type normal x
        CLIENT list type master
        CLIENT list type replica
        CLIENT list type slave
        CLIENT list type pubsub
        CLIENT info x
        CLIENT kill
        CLIENT kill 1.2.3.4:5
        CLIENT kill id
        CLIENT kill id abc
        CLIENT kill id 0
        CLIENT kill id -1
        CLIENT kill id 9999
        CLIENT kill addr 1.2.3.4:5
        CLIENT kill laddr 1.2.3.4:5
        CLIENT kill type foo
        CLIENT kill type master
        CLIENT kill skipme maybe
        CLIENT kill foo bar
        CLIENT kill id 1 skipme
        CLIENT kill id 1 type normal addr
        CLIENT kill user nobody
        CLIENT kill user default skipme yes id 99999
        CLIENT pause
        CLIENT pause abc
        CLIENT pause -1
        CLIENT pause 10 foo
        CLIENT pause 10 write x
        CLIENT pause 0 write
        CLIENT pause 0 ALL
        CLIENT pause 0
        CLIENT unpause x
        CLIENT unpause
        CLIENT reply
        CLIENT reply foo
        CLIENT reply on x
        CLIENT reply on
        CLIENT no-evict
        CLIENT no-evict foo
        CLIENT no-evict on x
        CLIENT no-evict on
        CLIENT no-evict OFF
        CLIENT help x
        "#,
    );
}

#[test]
fn diff_connection_command_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        PING
        PING hello
        PING a b
        ECHO
        ECHO a b
        ECHO hello
        ECHO ""
        SELECT
        SELECT a
        SELECT 100
        SELECT 16
        SELECT -1
        SELECT 1.5
        SELECT 1 2
        SELECT 1
        SELECT 0
        HELLO 4
        HELLO 1
        HELLO abc
        HELLO -1
        HELLO 3 foo
        HELLO 3 auth a
        HELLO 3 setname "a b"
        HELLO 2 setname "a b" auth a
        HELLO 2 setname "a b" auth default x
        AUTH
        AUTH a b c
        AUTH a
        AUTH default x
        AUTH foo x
        RESET x
        "#,
    );
    // Redis 7.2 reads every option before authenticating (7.0 authenticated
    // as it went), so a trailing bad option wins over a wrong password.
    if common::against_redis() {
        return;
    }
    assert_eq!(
        d.ferrite.cmd(&["HELLO", "3", "AUTH", "a", "b", "SETNAME"]),
        b"-ERR Syntax error in HELLO option 'SETNAME'\r\n"
    );
}

#[test]
fn diff_command_info_of_connection_commands() {
    let mut d = Differential::new();
    for name in [
        "ping",
        "echo",
        "select",
        "auth",
        "hello",
        "quit",
        "reset",
        "client|id",
        "client|getname",
        "client|info",
        "client|kill",
        "client|list",
        "client|no-evict",
        "client|pause",
        "client|reply",
        "client|unpause",
        "client|unblock",
        "client|help",
    ] {
        d.check(&["COMMAND", "INFO", name]);
    }
    // Redis 7.2 added routing tips to CLIENT SETNAME, and NO-TOUCH/SETINFO.
    if common::against_redis() {
        return;
    }
    let setname = Reply::from_raw(&d.ferrite.cmd(&["COMMAND", "INFO", "client|setname"]));
    assert_eq!(
        setname.to_string(),
        "[[\"client|setname\", (integer) 3, [+noscript, +loading, +stale], (integer) 0, (integer) 0, \
         (integer) 0, [+@slow, +@connection], [\"request_policy:all_nodes\", \"response_policy:all_succeeded\"], \
         [], []]]"
    );
    for sub in ["client|no-touch", "client|setinfo"] {
        let r = Reply::from_raw(&d.ferrite.cmd(&["COMMAND", "INFO", sub]));
        assert_eq!(
            r.as_array().unwrap()[0].as_array().unwrap()[0].as_bytes(),
            Some(sub.as_bytes())
        );
    }
}

#[test]
fn diff_reply_modes() {
    let mut d = Differential::new();
    // OFF: nothing comes back until ON answers OK.
    let mut raw = common::encode_command(&["CLIENT", "REPLY", "OFF"]);
    raw.extend(common::encode_command(&["SET", "k", "v"]));
    raw.extend(common::encode_command(&["GET", "k"]));
    raw.extend(common::encode_command(&["CLIENT", "REPLY", "ON"]));
    raw.extend(common::encode_command(&["GET", "k"]));
    d.check_raw(&raw, 2);
    // SKIP: only the next command's reply is dropped.
    let mut raw = common::encode_command(&["CLIENT", "REPLY", "SKIP"]);
    raw.extend(common::encode_command(&["ECHO", "dropped"]));
    raw.extend(common::encode_command(&["ECHO", "kept"]));
    d.check_raw(&raw, 1);
    // SKIP then ON: ON itself answers.
    let mut raw = common::encode_command(&["CLIENT", "REPLY", "SKIP"]);
    raw.extend(common::encode_command(&["CLIENT", "REPLY", "ON"]));
    raw.extend(common::encode_command(&["ECHO", "x"]));
    d.check_raw(&raw, 2);
    // SKIP while OFF stays OFF; errors are suppressed too.
    let mut raw = common::encode_command(&["CLIENT", "REPLY", "OFF"]);
    raw.extend(common::encode_command(&["CLIENT", "REPLY", "SKIP"]));
    raw.extend(common::encode_command(&["NOSUCHCOMMAND"]));
    raw.extend(common::encode_command(&["ECHO", "x"]));
    raw.extend(common::encode_command(&["CLIENT", "REPLY", "ON"]));
    raw.extend(common::encode_command(&["ECHO", "y"]));
    d.check_raw(&raw, 2);
}

#[test]
fn diff_quit_and_reset() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        CLIENT setname before
        SELECT 3
        CLIENT no-evict on
        RESET
        CLIENT getname
        "#,
    );
    let (mut f, mut r) = d.new_conns();
    assert_eq!(f.cmd(&["QUIT", "extra"]), r.cmd(&["QUIT", "extra"]));
    assert!(
        f.closed_within(Duration::from_secs(2)),
        "QUIT must close the connection"
    );
}

#[test]
fn setname_getname_list_info() {
    let s = Server::start();
    let mut con = s.conn();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, None);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name.as_deref(), Some("worker-1"));

    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(
        info.ends_with('\n') && info.lines().count() == 1,
        "{info:?}"
    );
    assert_eq!(client_field(&info, "id"), id.to_string());
    assert_eq!(client_field(&info, "name"), "worker-1");
    assert_eq!(client_field(&info, "cmd"), "client|info");
    assert_eq!(client_field(&info, "flags"), "N");
    assert_eq!(client_field(&info, "user"), "default");
    assert_eq!(client_field(&info, "resp"), "2");
    // The redis crate announces itself with CLIENT SETINFO on connect.
    assert_eq!(client_field(&info, "lib-name"), "redis-rs");
    assert!(!client_field(&info, "lib-ver").is_empty());

    let mut other = s.raw();
    other.cmd(&["SELECT", "5"]);
    let other_id = int_of(&other.cmd(&["CLIENT", "ID"]));
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines.len() >= 2, "{list}");
    let theirs = lines
        .iter()
        .find(|l| client_field(l, "id") == other_id.to_string())
        .expect("other client listed");
    assert_eq!(client_field(theirs, "db"), "5");
    assert_eq!(client_field(theirs, "cmd"), "client|id");
    let by_id: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(other_id)
        .arg(999_999)
        .query(&mut con)
        .unwrap();
    assert_eq!(by_id.lines().count(), 1);
    assert!(by_id.starts_with(&format!("id={other_id} ")));
    let normal: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut con)
        .unwrap();
    assert_eq!(normal.lines().count(), lines.len());
    let pubsub: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut con)
        .unwrap();
    assert_eq!(pubsub, "");
}

#[test]
fn setinfo_and_no_touch_flags() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-ver", "5.0.1"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-ver", "5 0"]),
        b"-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "a\nb"]),
        b"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "foo", "x"]),
        b"-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-name"]),
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "on"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "NO-EVICT", "on"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["CLIENT", "NO-TOUCH", "maybe"]),
        b"-ERR syntax error\r\n"
    );
    let info = text_of(&c.cmd(&["CLIENT", "INFO"]));
    assert_eq!(client_field(&info, "lib-name"), "redis-py");
    assert_eq!(client_field(&info, "lib-ver"), "5.0.1");
    assert_eq!(client_field(&info, "flags"), "eT");
    // An empty value clears the attribute; RESET keeps the library details
    // but clears the modes.
    assert_eq!(c.cmd(&["CLIENT", "SETINFO", "lib-ver", ""]), b"+OK\r\n");
    assert_eq!(c.cmd(&["RESET"]), b"+RESET\r\n");
    let info = text_of(&c.cmd(&["CLIENT", "INFO"]));
    assert_eq!(client_field(&info, "lib-name"), "redis-py");
    assert_eq!(client_field(&info, "lib-ver"), "");
    assert_eq!(client_field(&info, "flags"), "N");
}

#[test]
fn kill_closes_the_target_connection() {
    let s = Server::start();
    let mut admin = s.raw();
    let mut victim = s.raw();
    let victim_id = int_of(&victim.cmd(&["CLIENT", "ID"]));
    let reply = admin.cmd(&["CLIENT", "KILL", "ID", &victim_id.to_string()]);
    assert_eq!(reply, b":1\r\n");
    assert!(
        victim.closed_within(Duration::from_secs(3)),
        "killed connection stays open"
    );
    // It is gone from the list, and killing it again finds nothing.
    let list = text_of(&admin.cmd(&["CLIENT", "LIST"]));
    assert!(!list.contains(&format!("id={victim_id} ")), "{list}");
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ID", &victim_id.to_string()]),
        b":0\r\n"
    );

    // The old form kills by peer address and answers OK.
    let mut victim2 = s.raw();
    let info = text_of(&victim2.cmd(&["CLIENT", "INFO"]));
    let addr = client_field(&info, "addr").to_string();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", &addr]), b"+OK\r\n");
    assert!(victim2.closed_within(Duration::from_secs(3)));
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", &addr]),
        b"-ERR No such client\r\n"
    );

    // Filters combine; SKIPME (default yes) spares the caller.
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&["PING"]);
    b.cmd(&["PING"]);
    let n = int_of(&admin.cmd(&["CLIENT", "KILL", "TYPE", "normal"]));
    assert!(n >= 2, "killed {n}");
    assert!(a.closed_within(Duration::from_secs(3)));
    assert!(b.closed_within(Duration::from_secs(3)));
    assert_eq!(admin.cmd(&["PING"]), b"+PONG\r\n");

    // MAXAGE only takes connections at least that old.
    let mut young = s.raw();
    young.cmd(&["PING"]);
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "MAXAGE", "100"]), b":0\r\n");
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "MAXAGE", "0"]),
        b"-ERR maxage should be greater than 0\r\n"
    );
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "MAXAGE", "x"]),
        b"-ERR maxage is not an integer or out of range\r\n"
    );
    assert_eq!(young.cmd(&["PING"]), b"+PONG\r\n");

    // SKIPME NO kills the caller after its reply.
    let reply = admin.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]);
    assert!(int_of(&reply) >= 2);
    assert!(admin.closed_within(Duration::from_secs(3)));
    assert!(young.closed_within(Duration::from_secs(3)));
}

#[test]
fn pause_write_holds_writes_but_not_reads() {
    let s = Server::start();
    let mut admin = s.raw();
    let mut c = s.raw();
    c.cmd(&["SET", "k", "v"]);
    let paused_at = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "1500", "WRITE"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nv\r\n");
    let get_took = t.elapsed();
    assert!(
        get_took < Duration::from_millis(1000),
        "GET was held {get_took:?}"
    );
    assert_eq!(c.cmd(&["SET", "k", "w"]), b"+OK\r\n");
    let held = paused_at.elapsed();
    assert!(
        held >= Duration::from_millis(1450),
        "SET ran during the pause ({held:?})"
    );
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nw\r\n");

    // UNPAUSE releases a held write at once.
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]),
        b"+OK\r\n"
    );
    c.send(&["SET", "k", "x"]);
    assert!(
        c.try_read_reply(Duration::from_millis(300)).is_err(),
        "SET not held"
    );
    let t = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert!(t.elapsed() < Duration::from_secs(2));

    // A connection held by a pause can still be killed, at once.
    let mut held = s.raw();
    let held_id = int_of(&held.cmd(&["CLIENT", "ID"]));
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]),
        b"+OK\r\n"
    );
    held.send(&["SET", "k", "y"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        admin.cmd(&["CLIENT", "KILL", "ID", &held_id.to_string()]),
        b":1\r\n"
    );
    assert!(
        held.closed_within(Duration::from_secs(2)),
        "paused client not killed"
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(
        c.cmd(&["GET", "k"]),
        b"$1\r\nx\r\n",
        "the killed client's SET ran"
    );

    // PAUSE ALL (the default) holds reads too.
    let paused_at = Instant::now();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "500"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$1\r\nx\r\n");
    assert!(
        paused_at.elapsed() >= Duration::from_millis(450),
        "GET ran during PAUSE ALL"
    );
}

#[test]
fn no_touch_leaves_idle_time_alone() {
    let s = Server::start();
    let mut c = s.raw();
    if Reply::from_raw(&c.cmd(&["COMMAND", "INFO", "object"]))
        .as_array()
        .and_then(|a| a.first().cloned())
        == Some(Reply::NullBulk)
    {
        eprintln!("OBJECT is not implemented yet; skipping");
        return;
    }
    c.cmd(&["SET", "k", "v"]);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "ON"]), b"+OK\r\n");
    c.cmd(&["GET", "k"]);
    let idle = int_of(&c.cmd(&["OBJECT", "IDLETIME", "k"]));
    assert!(idle >= 2, "GET under NO-TOUCH reset the idle time ({idle})");
    // TOUCH still touches, even under NO-TOUCH.
    c.cmd(&["TOUCH", "k"]);
    assert_eq!(int_of(&c.cmd(&["OBJECT", "IDLETIME", "k"])), 0);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "OFF"]), b"+OK\r\n");
    c.cmd(&["GET", "k"]);
    assert_eq!(int_of(&c.cmd(&["OBJECT", "IDLETIME", "k"])), 0);
}

#[test]
fn hello_switches_protocol() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    let hello = c.cmd(&["HELLO", "3", "SETNAME", "r3"]);
    assert!(hello.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:3\r\n"));
    assert!(hello.ends_with(
        b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    ));
    // Maps, nulls and verbatim strings now use RESP3 types.
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory"]),
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(c.cmd(&["GET", "missing"]), b"_\r\n");
    assert!(c.cmd(&["CLIENT", "INFO"]).starts_with(b"="));
    assert_eq!(text_of(&c.cmd(&["CLIENT", "GETNAME"])), "r3");
    let info = text_of(&c.cmd(&["CLIENT", "INFO"]));
    assert_eq!(client_field(&info, "resp"), "3");
    // HELLO without a version keeps the protocol; HELLO 2 goes back.
    assert!(c.cmd(&["HELLO"]).starts_with(b"%7\r\n"));
    assert!(c.cmd(&["HELLO", "2"]).starts_with(b"*14\r\n"));
    assert_eq!(c.cmd(&["GET", "missing"]), b"$-1\r\n");
    // RESET goes back to RESP2 too.
    c.cmd(&["HELLO", "3"]);
    assert_eq!(c.cmd(&["RESET"]), b"+RESET\r\n");
    assert_eq!(c.cmd(&["GET", "missing"]), b"$-1\r\n");

    // The redis crate's RESP3 mode works end to end.
    let mut con = s.client_resp3().get_connection().unwrap();
    let v: Option<String> = redis::cmd("GET").arg("missing").query(&mut con).unwrap();
    assert_eq!(v, None);
    let cfg: std::collections::HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut con)
        .unwrap();
    assert_eq!(cfg.get("maxmemory").map(String::as_str), Some("0"));
}

#[test]
fn diff_requirepass() {
    let args = ["--requirepass", "secret"];
    let mut d = Differential::with_args(&args, &args);
    d.check_all(
        r#"
        GET k
        SET k v
        CLIENT ID
        HELLO 3 AUTH default wrong
        HELLO 3 AUTH nobody secret
        AUTH wrong
        AUTH default wrong
        AUTH nobody secret
        AUTH a b c
        PING
        AUTH secret
        SET k v
        GET k
        AUTH default secret
        RESET
        GET k
        AUTH secret
        GET k
        "#,
    );
    // Redis 7.2's text (7.0's lacks `<proto>`).
    let noauth = b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO \
                   <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP \
                   protocol version at the same time\r\n";
    if !common::against_redis() {
        let (mut f, _r) = d.new_conns();
        assert_eq!(f.cmd(&["HELLO", "3"]), noauth);
        assert_eq!(f.cmd(&["HELLO", "2", "SETNAME", "x"]), noauth);
    }
    // Unauthenticated clients may not send big requests: the parser refuses
    // them before anything is allocated, and the connection is closed.
    let (mut f, mut r) = d.new_conns();
    let raw = b"*100\r\n";
    f.send_raw(raw);
    r.send_raw(raw);
    assert_eq!(f.read_reply(), r.read_reply());
    assert!(f.closed_within(Duration::from_secs(2)));
    let (mut f, mut r) = d.new_conns();
    let raw = b"*1\r\n$20000\r\n";
    f.send_raw(raw);
    r.send_raw(raw);
    assert_eq!(f.read_reply(), r.read_reply());
    assert!(f.closed_within(Duration::from_secs(2)));
    // Once authenticated, the same request sizes are fine.
    let (mut f, _r) = d.new_conns();
    assert_eq!(f.cmd(&["AUTH", "secret"]), b"+OK\r\n");
    let mut args = vec!["DEL".to_string()];
    args.extend((0..99).map(|i| format!("k{i}")));
    assert_eq!(f.cmd(&args), b":0\r\n");
}

#[test]
fn hello_auth_authenticates() {
    let s = Server::with_args(&["--requirepass", "secret"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    let hello = c.cmd(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "n1"]);
    assert!(
        hello.starts_with(b"%7\r\n"),
        "{}",
        common::fmt_reply(&hello)
    );
    assert_eq!(c.cmd(&["GET", "k"]), b"_\r\n");
    assert_eq!(text_of(&c.cmd(&["CLIENT", "GETNAME"])), "n1");
    // The redis crate authenticates through the URL.
    let url = format!("redis://:secret@127.0.0.1:{}/", s.port());
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn help_lists_subcommands() {
    let s = Server::start();
    let mut c = s.raw();
    let help = Reply::from_raw(&c.cmd(&["client", "help"]));
    let lines: Vec<String> = help
        .as_array()
        .unwrap()
        .iter()
        .map(|l| String::from_utf8_lossy(l.as_bytes().unwrap()).into_owned())
        .collect();
    assert_eq!(
        lines[0],
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    for sub in [
        "GETNAME", "ID", "INFO", "KILL", "LIST", "PAUSE", "UNPAUSE", "REPLY", "SETNAME", "SETINFO",
        "NO-EVICT", "NO-TOUCH",
    ] {
        assert!(lines.iter().any(|l| l.starts_with(sub)), "HELP lacks {sub}");
    }
    assert_eq!(lines[lines.len() - 2], "HELP");
}

#[test]
fn idle_connections_give_large_buffers_back() {
    let s = Server::start();
    let mut con = s.conn();
    let big = vec![b'x'; 200 * 1024];
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut con)
        .unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).unwrap();
    assert_eq!(got.len(), big.len());
    let buffers = |con: &mut redis::Connection| {
        // A batch records its buffers when it ends, so the line CLIENT INFO
        // shows is the previous command's (the PING's).
        let _: String = redis::cmd("PING").query(con).unwrap();
        let info: String = redis::cmd("CLIENT").arg("INFO").query(con).unwrap();
        let field = |f| client_field(&info, f).parse::<usize>().unwrap();
        (field("qbuf-free"), field("rbs"))
    };
    // qbuf-free counts only past the unread start, so it cannot show that
    // the read buffer grew; the reply buffer's size can.
    let (_, rbs) = buffers(&mut con);
    assert!(rbs > 64 * 1024, "rbs {rbs}");
    std::thread::sleep(Duration::from_millis(2500));
    let (qbuf_free, rbs) = buffers(&mut con);
    assert!(qbuf_free <= 32 * 1024, "qbuf-free {qbuf_free} after idling");
    assert!(rbs <= 32 * 1024, "rbs {rbs} after idling");
}

#[test]
fn kill_reaches_blocked_and_paused_clients() {
    let s = Server::start();
    let mut admin = s.conn();
    for (setup, command) in [
        (None, vec!["BLPOP", "nolist", "0"]),
        (
            Some(vec!["CLIENT", "PAUSE", "20000", "WRITE"]),
            vec!["SET", "k", "v"],
        ),
    ] {
        if let Some(setup) = &setup {
            let _: () = redis::cmd(setup[0])
                .arg(&setup[1..])
                .query(&mut admin)
                .unwrap();
        }
        let mut victim = s.conn();
        let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut victim).unwrap();
        let sent = command.clone();
        let waiting = std::thread::spawn(move || {
            let r: redis::RedisResult<redis::Value> =
                redis::cmd(sent[0]).arg(&sent[1..]).query(&mut victim);
            r.is_err()
        });
        // Give the victim time to send its command and wait; a reply
        // before the kill would fail the check below.
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "{command:?} did not wait");
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query(&mut admin)
            .unwrap();
        assert_eq!(killed, 1);
        let start = Instant::now();
        while !waiting.is_finished() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{command:?} outlived its kill"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            waiting.join().unwrap(),
            "{command:?} got a reply after its kill"
        );
        if setup.is_some() {
            let _: () = redis::cmd("CLIENT")
                .arg("UNPAUSE")
                .query(&mut admin)
                .unwrap();
        }
    }
}
