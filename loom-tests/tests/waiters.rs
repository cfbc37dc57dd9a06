//! The blocked-client hand-off (`src/store/waiters.rs`) on the real
//! keyspace latches. A model list is an integer value: how many elements
//! it holds. The steps each thread takes are the ones the blocking commands
//! take (`commands::blocking`): a blocker latches the key, pops if it can,
//! else parks before releasing the latch; a pusher pushes and serves the
//! parked waiters under the same latch; a waiter that gives up cancels, and
//! if a server claimed it first, waits for what it was handed.
#![cfg(loom)]

use ferrite_loom_tests::harness::{model, model_bounded, model_broken};
use ferrite_loom_tests::store::waiters::{loom_breaks, Cancel, Flow, State, Waiter, Waiters};
use ferrite_loom_tests::store::{Clock, Keyspace, Locked};
use ferrite_loom_tests::sync::pin;
use ferrite_loom_tests::types::Value;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::sync::Arc;

const CLOCK: Clock = Clock {
    now_ms: 1_000,
    lru: None,
};
const K: &[u8] = b"list";

type W = Waiter<(), u64>;
type Ws = Waiters<(), u64>;

fn len_of(l: &Locked<'_>) -> u64 {
    l.value().map_or(0, |v| v.get())
}

/// The models keep the key present with 0 elements rather than deleting
/// it: the latch is the same either way, and creating and unlinking a node
/// from three threads multiplies the executions by orders of magnitude.
fn store_len(l: &mut Locked<'_>, n: u64) {
    l.set(Value::new(n));
}

/// An empty list under `K`.
fn empty_list() -> Arc<Keyspace> {
    let ks = Keyspace::new();
    {
        let g = pin();
        ks.lock(K, CLOCK, &g).set(Value::new(0));
    }
    Arc::new(ks)
}

/// LPUSH of one element, serving the key's waiters under its latch.
/// Returns whether a waiter was parked on the key when it latched it.
fn push(ks: &Keyspace, ws: &Ws) -> bool {
    let g = pin();
    let mut l = ks.lock(K, CLOCK, &g);
    let had_waiter = ws.has_waiters(0, K);
    let mut n = len_of(&l) + 1;
    ws.serve(0, K, |w| {
        if n == 0 {
            return Flow::Stop;
        }
        if w.claim() {
            n -= 1;
            w.deliver(1);
        }
        Flow::Next
    });
    store_len(&mut l, n);
    had_waiter
}

/// LPOP: 1 if it took an element.
fn pop(ks: &Keyspace) -> u64 {
    let g = pin();
    let mut l = ks.lock(K, CLOCK, &g);
    let n = len_of(&l);
    if n == 0 {
        return 0;
    }
    store_len(&mut l, n - 1);
    1
}

/// BLPOP's first step: pops if it can (`Ok(1)`), else parks a waiter under
/// the latch (`Err(waiter)`).
fn block(ks: &Keyspace, ws: &Ws) -> Result<u64, Arc<W>> {
    let g = pin();
    let mut l = ks.lock(K, CLOCK, &g);
    let n = len_of(&l);
    if n > 0 {
        store_len(&mut l, n - 1);
        return Ok(1);
    }
    let w = Arc::new(Waiter::new(0, &[K], ()));
    ws.park(&w);
    drop(l);
    Err(w)
}

/// What a waiter ends with after giving up: what it was handed if a server
/// claimed it first (waiting for the delivery), else 0.
fn give_up(ws: &Ws, w: &Arc<W>) -> u64 {
    let got = if w.cancel(Cancel::Timeout) {
        0
    } else {
        loop {
            if let Some(d) = w.take() {
                break d;
            }
            thread::yield_now();
        }
    };
    ws.unpark(w);
    got
}

fn remaining(ks: &Keyspace) -> u64 {
    let g = pin();
    let l = ks.lock(K, CLOCK, &g);
    len_of(&l)
}

/// A blocker, a pusher and a plain popper race on one empty list. The one
/// element ends in exactly one place; a parked blocker is never left
/// waiting beside an element (a lost wake-up); and a blocker that parked
/// before the push gets the element, not the popper that came later.
#[test]
fn blocked_client_gets_the_pushed_element_exactly_once() {
    // Three threads on one latch: two preemptions take seconds, three
    // about three minutes (2.1 million executions, all passing).
    model_bounded(2, || {
        let ks = empty_list();
        let ws: Arc<Ws> = Arc::new(Waiters::default());
        let popped = Arc::new(AtomicUsize::new(0));
        let b = {
            let (ks, ws) = (ks.clone(), ws.clone());
            thread::spawn(move || block(&ks, &ws))
        };
        let p = {
            let (ks, ws) = (ks.clone(), ws.clone());
            thread::spawn(move || push(&ks, &ws))
        };
        let c = {
            let (ks, popped) = (ks.clone(), popped.clone());
            thread::spawn(move || popped.store(pop(&ks) as usize, Ordering::Relaxed))
        };
        let blocked = b.join().unwrap();
        let had_waiter = p.join().unwrap();
        c.join().unwrap();
        let left = remaining(&ks);
        let popped = popped.load(Ordering::Relaxed) as u64;
        let blocker_got = match &blocked {
            Ok(n) => *n,
            Err(w) => match w.state() {
                State::Claimed => w.take().expect("a claimed waiter was delivered"),
                State::Waiting => {
                    assert_eq!(left, 0, "a waiter waits beside an element");
                    give_up(&ws, w)
                }
                State::Cancelled(_) => panic!("nobody cancelled"),
            },
        };
        if had_waiter {
            // Parked before the push latched the key: served first, ahead
            // of the popper.
            assert_eq!(blocker_got, 1, "a parked waiter was passed over");
        }
        if let Err(w) = &blocked {
            ws.unpark(w);
        }
        assert_eq!(blocker_got + popped + left, 1, "element lost or doubled");
        assert!(ws.is_empty(), "a waiter is still parked");
    });
}

/// A blocker that parks and then gives up (its timeout) races the push
/// that serves it: the element goes to the waiter exactly when the server
/// claimed it before the cancel, and otherwise stays in the list.
fn cancel_vs_serve() {
    let ks = empty_list();
    let ws: Arc<Ws> = Arc::new(Waiters::default());
    let b = {
        let (ks, ws) = (ks.clone(), ws.clone());
        thread::spawn(move || match block(&ks, &ws) {
            Ok(n) => n,
            Err(w) => give_up(&ws, &w),
        })
    };
    let p = {
        let (ks, ws) = (ks.clone(), ws.clone());
        thread::spawn(move || push(&ks, &ws))
    };
    let got = b.join().unwrap();
    p.join().unwrap();
    assert_eq!(got + remaining(&ks), 1, "element lost or doubled");
    assert!(ws.is_empty(), "a waiter is still parked");
}

#[test]
fn timed_out_waiter_never_swallows_an_element() {
    model(cancel_vs_serve);
}

#[test]
#[should_panic(expected = "element lost or doubled")]
fn broken_claim_that_ignores_cancel_loses_an_element() {
    model_broken(&loom_breaks::CLAIM_IGNORES_CANCEL, cancel_vs_serve);
}

/// Two clients parked in order; the second gives up while one element is
/// pushed: the first is served (blocking order), the second gets nothing.
#[test]
fn waiters_are_served_in_the_order_they_blocked() {
    model(|| {
        let ks = empty_list();
        let ws: Arc<Ws> = Arc::new(Waiters::default());
        let first = block(&ks, &ws).expect_err("the list is empty");
        let second = block(&ks, &ws).expect_err("the list is empty");
        let p = {
            let (ks, ws) = (ks.clone(), ws.clone());
            thread::spawn(move || push(&ks, &ws))
        };
        let giver = {
            let ws = ws.clone();
            thread::spawn(move || give_up(&ws, &second))
        };
        p.join().unwrap();
        assert_eq!(giver.join().unwrap(), 0, "the second waiter was served");
        assert_eq!(first.take(), Some(1), "the first waiter was passed over");
        ws.unpark(&first);
        assert_eq!(remaining(&ks), 0);
        assert!(ws.is_empty());
    });
}
