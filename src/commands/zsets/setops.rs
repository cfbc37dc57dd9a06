//! ZUNION, ZINTER, ZDIFF, their STORE variants and ZINTERCARD (Redis's
//! `zunionInterDiffGenericCommand`). Inputs may be sets (every member
//! scoring 1) as well as sorted sets.

use super::{limits, parse_score, reply_pairs};
use crate::commands::keys::count_lookups;
use crate::commands::{errors, Ctx};
use crate::types::set::Set;
use crate::types::zset::ZSet;
use crate::types::Value;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// One input: a sorted set, a set, or nothing (a missing key).
#[derive(Clone, Copy)]
enum Src<'a> {
    Z(&'a ZSet),
    S(&'a Set),
    None,
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
            Src::None => 0,
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
            Src::None => None,
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.iter().for_each(|e| e.with_bytes(|b| f(b, 1.0))),
            Src::None => {}
        }
    }
}

fn src_of(v: Option<&Value>) -> Result<Src<'_>, &'static str> {
    match v {
        None => Ok(Src::None),
        Some(Value::ZSet(z)) => Ok(Src::Z(z)),
        Some(Value::Set(s)) => Ok(Src::S(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// The parsed options.
struct Opts {
    weights: Vec<f64>,
    agg: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Parses numkeys and the options: the keys' range in `args`, and the
/// options or the error they give (answered only after the keys' types
/// are checked, as Redis checks them first).
fn parse(
    ctx: &mut Ctx,
    args: &[&[u8]],
    numkeys_idx: usize,
    op: Op,
    store: bool,
    card: bool,
) -> Option<(std::ops::Range<usize>, Result<Opts, &'static str>)> {
    let Some(setnum) = crate::util::num::parse_i64(args[numkeys_idx]) else {
        ctx.error(errors::NOT_INTEGER);
        return None;
    };
    if setnum < 1 {
        let name = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
        ctx.error(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
        return None;
    }
    if setnum > (args.len() - (numkeys_idx + 1)) as i64 {
        ctx.error(errors::SYNTAX);
        return None;
    }
    let setnum = setnum as usize;
    let keys = numkeys_idx + 1..numkeys_idx + 1 + setnum;
    let mut o = Opts {
        weights: vec![1.0; setnum],
        agg: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = keys.end;
    let opts = loop {
        if j >= args.len() {
            break Ok(o);
        }
        let remaining = args.len() - j;
        let a = args[j];
        if op != Op::Diff && !card && remaining > setnum && a.eq_ignore_ascii_case(b"weights") {
            j += 1;
            let mut bad = false;
            for i in 0..setnum {
                match parse_score(args[j + i]) {
                    Some(w) => o.weights[i] = w,
                    None => {
                        bad = true;
                        break;
                    }
                }
            }
            if bad {
                break Err("ERR weight value is not a float");
            }
            j += setnum;
        } else if op != Op::Diff && !card && remaining >= 2 && a.eq_ignore_ascii_case(b"aggregate")
        {
            let v = args[j + 1];
            o.agg = if v.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if v.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if v.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                break Err(errors::SYNTAX);
            };
            j += 2;
        } else if !store && !card && a.eq_ignore_ascii_case(b"withscores") {
            o.withscores = true;
            j += 1;
        } else if card && remaining >= 2 && a.eq_ignore_ascii_case(b"limit") {
            match crate::util::num::parse_i64(args[j + 1]) {
                Some(n) if n >= 0 => o.limit = n as usize,
                _ => break Err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            break Err(errors::SYNTAX);
        }
    };
    Some((keys, opts))
}

/// Computes the result: (member, score) pairs, unordered, or only the
/// count for ZINTERCARD.
fn compute(srcs: &[Src<'_>], op: Op, o: &Opts, card: bool) -> (Vec<(Vec<u8>, f64)>, usize) {
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    if op != Op::Diff {
        order.sort_by_key(|&i| srcs[i].len());
    }
    let mut out = Vec::new();
    let mut count = 0usize;
    match op {
        Op::Inter => {
            let first = order[0];
            if srcs[first].len() == 0 {
                return (out, 0);
            }
            let mut stop = false;
            srcs[first].for_each(|m, s| {
                if stop {
                    return;
                }
                let mut score = o.weights[first] * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for &k in &order[1..] {
                    match srcs[k].score(m) {
                        Some(v) => aggregate(&mut score, v * o.weights[k], o.agg),
                        None => return,
                    }
                }
                if card {
                    count += 1;
                    if o.limit > 0 && count >= o.limit {
                        stop = true;
                    }
                } else {
                    out.push((m.to_vec(), score));
                }
            });
        }
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for &k in &order {
                srcs[k].for_each(|m, s| {
                    let mut score = o.weights[k] * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, o.agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                });
            }
            out = acc.into_iter().collect();
        }
        Op::Diff => {
            srcs[0].for_each(|m, s| {
                if !srcs[1..].iter().any(|x| x.score(m).is_some()) {
                    out.push((m.to_vec(), s));
                }
            });
        }
    }
    let n = if card { count } else { out.len() };
    (out, n)
}

fn sorted(mut v: Vec<(Vec<u8>, f64)>) -> Vec<(Vec<u8>, f64)> {
    v.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    v
}

fn reply_generic(ctx: &mut Ctx, args: &[&[u8]], op: Op, card: bool) {
    let Some((keys, opts)) = parse(ctx, args, 1, op, false, card) else {
        return;
    };
    let Ok(values) = ctx.keys.read_many(&args[keys]) else {
        return;
    };
    let found = values.found();
    count_lookups(ctx.shared, found as u64, (values.len() - found) as u64);
    let srcs: Result<Vec<Src<'_>>, _> = (0..values.len()).map(|i| src_of(values.get(i))).collect();
    let srcs = match srcs {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let o = match opts {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let (result, n) = compute(&srcs, op, &o, card);
    drop(values);
    if card {
        return ctx.out.int(n as i64);
    }
    let result = sorted(result);
    reply_pairs(
        ctx.out,
        result.len(),
        o.withscores,
        result.iter().map(|(m, s)| (m.as_slice(), *s)),
    );
}

fn store_generic(ctx: &mut Ctx, args: &[&[u8]], op: Op) {
    let Some((keys, opts)) = parse(ctx, args, 2, op, true, false) else {
        return;
    };
    let lim = limits(ctx);
    let mut names: Vec<&[u8]> = vec![args[1]];
    names.extend_from_slice(&args[keys]);
    let Ok(mut latches) = ctx.keys.write_many(&names) else {
        return;
    };
    let n = latches.len();
    let srcs: Result<Vec<Src<'_>>, _> =
        (1..n).map(|i| src_of(latches.nth_ref(i).value())).collect();
    let result = match (srcs, opts) {
        (Err(e), _) | (Ok(_), Err(e)) => {
            drop(latches);
            return ctx.error(e);
        }
        (Ok(srcs), Ok(o)) => compute(&srcs, op, &o, false).0,
    };
    // Built as a skiplist, then made a listpack if it fits, as Redis does.
    let mut z = ZSet::new_skiplist();
    for (m, s) in &result {
        z.set(m, *s, lim);
    }
    z.maybe_shrink(lim);
    let len = z.len();
    let dst = latches.nth(0);
    if len == 0 {
        dst.delete();
    } else {
        dst.set_with_expire(Value::ZSet(z), None);
    }
    drop(latches);
    if len > 0 {
        let db = ctx.keys.selected();
        super::super::blocking::signal_ready(ctx.shared, ctx.client, db, args[1]);
    }
    ctx.out.int(len as i64);
}

pub(super) fn zunion(ctx: &mut Ctx, args: &[&[u8]]) {
    reply_generic(ctx, args, Op::Union, false);
}

pub(super) fn zinter(ctx: &mut Ctx, args: &[&[u8]]) {
    reply_generic(ctx, args, Op::Inter, false);
}

pub(super) fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) {
    reply_generic(ctx, args, Op::Diff, false);
}

pub(super) fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) {
    reply_generic(ctx, args, Op::Inter, true);
}

pub(super) fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) {
    store_generic(ctx, args, Op::Union);
}

pub(super) fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) {
    store_generic(ctx, args, Op::Inter);
}

pub(super) fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) {
    store_generic(ctx, args, Op::Diff);
}
