//! SORT and SORT_RO: differential tests against a real redis-server 7.0 (every option,
//! their combinations and errors, over lists, sets and sorted sets in both encodings),
//! STORE (then LRANGE, empty results, serving a client blocked on the destination) and
//! RESP3 replies.

mod common;

use common::Differential;

#[test]
fn diff_sort_basics_and_errors() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        RPUSH l 3 1 2 10 -5 2.5 1e2 007 0x10 " 4"
        SORT l
        SORT l ASC
        SORT l DESC
        SORT l ALPHA
        SORT l ALPHA DESC
        SORT l desc alpha asc
        SORT l LIMIT 0 3
        SORT l LIMIT 2 3
        SORT l LIMIT -2 3
        SORT l LIMIT 2 -1
        SORT l LIMIT 2 0
        SORT l LIMIT 100 5
        SORT l LIMIT 9 5
        SORT l LIMIT 10 1
        SORT l LIMIT 0 1000 DESC
        SORT l LIMIT -9223372036854775808 9223372036854775807
        SORT l LIMIT x 1
        SORT l LIMIT 1 x
        SORT l LIMIT 1
        SORT l LIMIT
        SORT l BY
        SORT l GET
        SORT l STORE
        SORT l FOO
        SORT l ASC FOO
        SORT_RO l STORE dst
        SORT_RO l STORE
        SORT_RO l DESC LIMIT 1 2
        SORT nokey
        SORT nokey DESC ALPHA LIMIT 1 2
        SORT nokey BY nosort
        SORT nokey STORE dst
        EXISTS dst
        RPUSH bad 1 2 abc 3
        SORT bad
        SORT bad DESC LIMIT 0 1
        SORT bad ALPHA
        SORT bad BY nosort
        SORT bad STORE dst
        EXISTS dst
        RPUSH nans 1 nan
        SORT nans
        RPUSH inf3 1 inf -inf infinity -3 ""
        SORT inf3
        SORT inf3 DESC
        RPUSH ties 1 01 1.0 +1 a
        SORT ties ALPHA
        SORT ties ALPHA DESC
        SET str x
        SORT str
        SORT_RO str
        HSET h a 1
        SORT h
        SORT str LIMIT x y
        SORT l STORE str
        TYPE str
        LRANGE str 0 -1
        # Last: redis-server leaves errno at ERANGE after these, which fails later sorts.
        RPUSH inf 1 inf -inf +inf 1e400
        SORT inf
        RPUSH inf2 1 inf -inf infinity 1e-400
        SORT inf2
        "#,
    );
}

#[test]
fn diff_sort_sets_and_zsets() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        SADD si 5 3 9 -1 100 42 7
        OBJECT ENCODING si
        SORT si
        SORT si DESC
        SORT si ALPHA
        SORT si LIMIT 1 3
        @sorted SORT si BY nosort
        SORT si BY nosort STORE dst
        LRANGE dst 0 -1
        SORT si BY nosort DESC STORE dst
        LRANGE dst 0 -1
        SORT si BY nosort LIMIT 1 2 STORE dst
        LRANGE dst 0 -1
        SADD ss b a d c 10 2
        OBJECT ENCODING ss
        SORT ss
        SORT ss ALPHA
        SORT ss ALPHA DESC LIMIT 1 3
        @sorted SORT ss BY nosort
        SORT ss BY nosort STORE dst
        LRANGE dst 0 -1
        ZADD z 3 a 1 b 2 c 10 d 5 e
        OBJECT ENCODING z
        SORT z
        SORT z ALPHA
        SORT z ALPHA DESC
        SORT z BY nosort
        SORT z BY nosort DESC
        SORT z BY nosort LIMIT 1 2
        SORT z BY nosort DESC LIMIT 1 2
        SORT z BY nosort LIMIT 3 100
        SORT z BY nosort DESC LIMIT 3 100
        SORT z BY nosort LIMIT 5 1
        SORT z BY nosort LIMIT -1 2
        SORT z BY nosort DESC LIMIT 0 0
        SORT z BY nosort DESC GET # STORE dst
        LRANGE dst 0 -1
        ZADD zn 3 30 1 10 2 -20 4 4.5
        SORT zn
        SORT zn DESC LIMIT 1 2
        SORT zn BY nosort DESC
        RPUSH l c a b d
        SORT l BY nosort
        SORT l BY nosort DESC
        SORT l BY nosort LIMIT 1 2
        SORT l BY nosort DESC LIMIT 1 2
        SORT l BY nosort DESC LIMIT 3 2
        SORT l BY nosort LIMIT 4 2
        SORT l BY nosort LIMIT 0 0
        SORT l BY nosort-but-constant ALPHA
        SORT l BY # DESC
        "#,
    );
    // Large encodings: a hashtable set, a skiplist sorted set, a multi-node list.
    let mut cmds = String::new();
    for i in 0..300 {
        cmds.push_str(&format!(
            "SADD bigs {v}\nSADD bigsa m{v}\nZADD bigz {s} m{v}\nRPUSH bigl {v}\n",
            v = (i * 7919) % 1000,
            s = (i * 31) % 97
        ));
    }
    cmds.push_str(
        r#"
        OBJECT ENCODING bigs
        OBJECT ENCODING bigsa
        OBJECT ENCODING bigz
        SORT bigs
        SORT bigs DESC LIMIT 10 20
        SORT bigsa ALPHA LIMIT 5 10
        @sorted SORT bigsa BY nosort
        SORT bigsa BY nosort STORE dst
        LRANGE dst 0 20
        SORT bigz ALPHA DESC LIMIT 0 15
        SORT bigz BY nosort LIMIT 10 20
        SORT bigz BY nosort DESC LIMIT 10 20
        SORT bigz BY nosort
        SORT bigl
        SORT bigl BY nosort DESC LIMIT 100 30
        SORT bigl STORE dst
        LLEN dst
        LRANGE dst 0 -1
        "#,
    );
    d.check_all(&cmds);
}

#[test]
fn diff_sort_by_and_get() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        RPUSH l 1 2 3 4 5
        MSET w_1 50 w_2 10 w_3 30 w_4 abc o_1 one o_2 two o_3 three o_5 five
        HSET h_1 f 3 g x
        HSET h_2 f 1 g y
        HSET h_3 f 2
        HSET h_4 f 10 g w
        HSET h_5 g v
        SORT l BY w_*
        SORT l BY w_* ALPHA
        SET w_4 40
        SORT l BY w_*
        SORT l BY w_* DESC
        SORT l BY w_* LIMIT 1 2
        SORT l BY w_* DESC LIMIT 1 2
        SORT l BY w_* ALPHA DESC
        SORT l BY h_*->f
        SORT l BY h_*->f DESC
        SORT l BY h_*->f ALPHA
        SORT l BY h_*->g ALPHA
        SORT l BY h_*->g ALPHA DESC
        SORT l BY h_*->nofield
        SORT l BY nokey_*
        SORT l BY h_*
        SORT l BY w_*->f
        SORT l GET #
        SORT l GET o_*
        SORT l GET o_* GET # GET h_*->g GET w_* GET nokey_* GET h_*->f
        SORT l GET nostar
        SORT l GET h_*->
        SORT l GET h_*-
        SORT l GET h_*->f DESC LIMIT 1 3
        SORT l BY w_* GET o_* GET #
        SORT l BY h_*->f GET o_* LIMIT 0 2
        SORT l BY nosort GET o_* DESC
        SORT l BY nosort GET # GET o_* LIMIT 1 2
        SORT l BY w_* GET o_* STORE dst
        LRANGE dst 0 -1
        SORT l BY nosort GET nokey_* STORE dst
        LRANGE dst 0 -1
        SORT l BY h_*->f GET h_*->g GET # STORE dst
        LRANGE dst 0 -1
        SORT_RO l BY w_* GET o_* GET #
        SET pre1post 9
        SET pre2post 8
        SET pre3post 7
        SORT l BY pre*post GET pre*post
        HSET x1y a->b 5
        SORT l GET x*y->a->b
        RPUSH sub a b c
        MSET wa 3 wb 1 wc 2 va AA vb BB
        SORT sub BY w*
        SORT sub BY w* GET v* GET #
        SORT sub BY w* GET v* STORE dst
        LRANGE dst 0 -1
        LPUSH lw l
        SORT sub BY lw
        SORT sub BY lw GET lw
        SADD s 1 2 3 4 5
        SORT s BY w_* GET o_*
        SORT s BY h_*->f GET # GET h_*->g
        ZADD z 1 3 2 1 3 2
        SORT z BY w_* GET o_*
        SORT z BY nosort GET o_*
        SORT z BY nosort GET o_* DESC LIMIT 0 2
        "#,
    );
}

#[test]
fn diff_sort_store() {
    let mut d = Differential::new();
    d.check_all(
        r#"
        RPUSH l 3 1 2
        SORT l STORE dst
        LRANGE dst 0 -1
        TYPE dst
        SET dst x EX 100
        SORT l DESC STORE dst
        TTL dst
        LRANGE dst 0 -1
        SORT l LIMIT 5 5 STORE dst
        EXISTS dst
        SORT l LIMIT 0 0 STORE dst
        EXISTS dst
        SORT l STORE l
        LRANGE l 0 -1
        SORT l DESC STORE l
        LRANGE l 0 -1
        SORT l STORE a STORE b
        EXISTS a
        LRANGE b 0 -1
        SORT nokey STORE b
        EXISTS b
        SADD s x y z
        SORT s ALPHA STORE b
        LRANGE b 0 -1
        SORT s STORE b
        EXISTS b
        SORT l GET # GET nokey STORE b
        LRANGE b 0 -1
        COMMAND GETKEYS SORT l STORE b
        COMMAND GETKEYS SORT l LIMIT 0 1 GET store BY store STORE b STORE c
        COMMAND GETKEYS SORT l
        COMMAND GETKEYS SORT_RO l BY x GET y
        COMMAND GETKEYSANDFLAGS SORT l STORE b
        "#,
    );
}

#[test]
fn diff_sort_resp3() {
    let mut d = Differential::new();
    d.hello3();
    d.check_all(
        r#"
        RPUSH l 2 1 3
        MSET o_1 one o_3 three
        SORT l
        SORT l GET o_* GET #
        SORT_RO l GET o_*
        SORT l STORE dst
        SORT nokey
        SORT l LIMIT x 1
        "#,
    );
}

/// A client blocked in BLPOP on the destination is served by SORT ... STORE.
#[test]
fn sort_store_serves_blocked_client() {
    let server = common::Server::start();
    let mut blocked = server.conn();
    let mut c = server.conn();
    let _: i64 = redis::cmd("RPUSH")
        .arg("src")
        .arg(&[3, 1, 2])
        .query(&mut c)
        .unwrap();
    let waiter = std::thread::spawn(move || {
        let r: Option<(String, String)> = redis::cmd("BLPOP")
            .arg("dst")
            .arg(5)
            .query(&mut blocked)
            .unwrap();
        r
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let n: i64 = redis::cmd("SORT")
        .arg("src")
        .arg("STORE")
        .arg("dst")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3);
    let got = waiter.join().unwrap();
    assert_eq!(got, Some(("dst".to_string(), "1".to_string())));
    let rest: Vec<String> = redis::cmd("LRANGE")
        .arg("dst")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(rest, vec!["2", "3"]);
}
