//! ZRANGE in all its forms (by rank, score or lex, either way, LIMIT,
//! WITHSCORES), ZRANGESTORE, the legacy range commands, ZCOUNT, ZLEXCOUNT
//! and ZREMRANGEBY*. Every range is found by rank in O(log n) (the tree's
//! counts) and then walked.

use super::{limits, lookup_hit, publish, reply_pairs, strtod_all, zset_of};
use crate::commands::{errors, Ctx};
use crate::types::zset::ZSet;
use crate::types::Value;

const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// A score interval (Redis's `zrangespec`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` as Redis's `zslParseRange`.
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        fn one(a: &[u8]) -> Option<(f64, bool)> {
            let (ex, body) = match a.first() {
                Some(b'(') => (true, &a[1..]),
                _ => (false, a),
            };
            let v = strtod_all(body)?;
            Some((v, ex))
        }
        let (min, minex) = one(min)?;
        let (max, maxex) = one(max)?;
        Some(ScoreRange {
            min,
            max,
            minex,
            maxex,
        })
    }

    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ranks [start, end) of the entries in range.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        if self.min > self.max || (self.min == self.max && (self.minex || self.maxex)) {
            return (0, 0);
        }
        let start = z.partition_point(|s, _| !self.gte_min(s));
        let end = z.partition_point(|s, _| self.lte_max(s));
        (start, end.max(start))
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

/// A member interval (Redis's `zlexrangespec`).
#[derive(Clone, Debug)]
pub(crate) struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        fn one(a: &[u8]) -> Option<LexBound> {
            match a.first() {
                Some(b'+') if a.len() == 1 => Some(LexBound::PosInf),
                Some(b'-') if a.len() == 1 => Some(LexBound::NegInf),
                Some(b'(') => Some(LexBound::Excl(a[1..].to_vec())),
                Some(b'[') => Some(LexBound::Incl(a[1..].to_vec())),
                _ => None,
            }
        }
        Some(LexRange {
            min: one(min)?,
            max: one(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x.as_slice(),
            LexBound::Excl(x) => m > x.as_slice(),
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x.as_slice(),
            LexBound::Excl(x) => m < x.as_slice(),
        }
    }

    fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
        }
    }

    /// The ranks [start, end) of the entries in range (members compared
    /// alone, so meaningful when all scores are equal, as in Redis).
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        if self.is_empty() {
            return (0, 0);
        }
        let start = z.partition_point(|_, m| !self.gte_min(m));
        let end = z.partition_point(|_, m| self.lte_max(m));
        (start, end.max(start))
    }
}

/// Which kind of range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Where the result goes.
enum Dest<'a> {
    Client,
    Store(&'a [u8]),
}

/// Normalizes a rank range as Redis does: `None` if empty.
fn rank_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

#[allow(clippy::too_many_arguments)]
/// The ranks a range command selects, in reply order (ascending ranks, or
/// descending ones for REV).
fn select(
    z: &ZSet,
    kind: Kind,
    rev: bool,
    ranks: (i64, i64),
    score: Option<&ScoreRange>,
    lex: Option<&LexRange>,
    offset: i64,
    limit: i64,
) -> (usize, usize) {
    // Returns (first rank, how many), walking up (or down for rev).
    let len = z.len();
    match kind {
        Kind::Rank | Kind::Auto => match rank_bounds(ranks.0, ranks.1, len) {
            None => (0, 0),
            Some((s, e)) => {
                let n = e - s + 1;
                if rev {
                    (len - 1 - s, n)
                } else {
                    (s, n)
                }
            }
        },
        Kind::Lex if matches!(z, ZSet::Listpack(_)) => {
            lex_listpack(z, lex.expect("parsed"), rev, offset, limit)
        }
        Kind::Score | Kind::Lex => {
            let (start, end) = match kind {
                Kind::Score => score.expect("parsed").ranks(z),
                _ => lex.expect("parsed").ranks(z),
            };
            let total = end - start;
            if offset < 0 || offset as u64 >= total as u64 || limit == 0 {
                return (0, 0);
            }
            let offset = offset as usize;
            let mut n = total - offset;
            if limit > 0 {
                n = n.min(limit as usize);
            }
            if rev {
                (end - 1 - offset, n)
            } else {
                (start + offset, n)
            }
        }
    }
}

/// A lex range of a listpack exactly as Redis walks one (linear, members
/// compared alone, so also for members not in byte order): from the first
/// entry at or above min (the last at or below max for REV), which must be
/// in range, skip `offset` entries, then take entries while they stay
/// within the other bound.
fn lex_listpack(z: &ZSet, r: &LexRange, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
    let len = z.len();
    if len == 0 || r.is_empty() {
        return (0, 0);
    }
    let (first, last) = (
        z.get(0).expect("not empty").0,
        z.get(len - 1).expect("not empty").0,
    );
    if !r.gte_min(last) || !r.lte_max(first) {
        return (0, 0);
    }
    let start = if rev {
        (0..len)
            .rev()
            .find(|&i| r.lte_max(z.get(i).expect("in range").0))
    } else {
        (0..len).find(|&i| r.gte_min(z.get(i).expect("in range").0))
    };
    let Some(start) = start else {
        return (0, 0);
    };
    let m = z.get(start).expect("in range").0;
    if !(r.gte_min(m) && r.lte_max(m)) || offset < 0 {
        return (0, 0);
    }
    let offset = offset as usize;
    let from = if rev {
        match start.checked_sub(offset) {
            Some(f) => f,
            None => return (0, 0),
        }
    } else if start + offset < len {
        start + offset
    } else {
        return (0, 0);
    };
    let n = z
        .iter_from(from, rev)
        .take_while(|(m, _)| if rev { r.gte_min(m) } else { r.lte_max(m) })
        .count();
    let n = if limit >= 0 { n.min(limit as usize) } else { n };
    (from, n)
}

/// Redis's `zrangeGenericCommand`: `first` is the index of the source key;
/// `dir` is `Some(rev)` for the legacy commands, whose direction is fixed,
/// `None` for ZRANGE and ZRANGESTORE (REV allowed).
fn range_generic(
    ctx: &mut Ctx,
    args: &[&[u8]],
    first: usize,
    dest: Dest<'_>,
    kind: Kind,
    dir: Option<bool>,
) {
    let store = matches!(dest, Dest::Store(_));
    let mut kind = kind;
    let mut rev_opt = dir;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = first + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if !store && a.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let (Some(o), Some(l)) = (
                crate::util::num::parse_i64(args[j + 1]),
                crate::util::num::parse_i64(args[j + 2]),
            ) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            offset = o;
            limit = l;
            j += 2;
        } else if rev_opt.is_none() && a.eq_ignore_ascii_case(b"rev") {
            rev_opt = Some(true);
        } else if kind == Kind::Auto && a.eq_ignore_ascii_case(b"bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && a.eq_ignore_ascii_case(b"byscore") {
            kind = Kind::Score;
        } else {
            return ctx.error(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return ctx.error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && kind == Kind::Lex {
        return ctx.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut minidx, mut maxidx) = (first + 1, first + 2);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let (mut ranks, mut score, mut lex) = ((0, 0), None, None);
    match kind {
        Kind::Rank | Kind::Auto => {
            let (Some(s), Some(e)) = (
                crate::util::num::parse_i64(args[minidx]),
                crate::util::num::parse_i64(args[maxidx]),
            ) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            ranks = (s, e);
        }
        Kind::Score => match ScoreRange::parse(args[minidx], args[maxidx]) {
            Some(r) => score = Some(r),
            None => return ctx.error(NOT_FLOAT_RANGE),
        },
        Kind::Lex => match LexRange::parse(args[minidx], args[maxidx]) {
            Some(r) => lex = Some(r),
            None => return ctx.error(NOT_LEX_RANGE),
        },
    }
    match dest {
        Dest::Client => {
            let Ok(view) = ctx.keys.read(args[first]) else {
                return;
            };
            lookup_hit(ctx.shared, view.is_some());
            let z = match zset_of(view.as_ref().map(|v| v.value())) {
                Ok(Some(z)) => z,
                Ok(None) => return ctx.out.array(0),
                Err(e) => return ctx.out.error(e),
            };
            let (from, n) = select(
                z,
                kind,
                rev,
                ranks,
                score.as_ref(),
                lex.as_ref(),
                offset,
                limit,
            );
            let items = z.iter_from(from, rev).take(n);
            reply_pairs(ctx.out, n, withscores, items);
        }
        Dest::Store(dst) => {
            let lim = limits(ctx);
            let Ok(mut latches) = ctx.keys.write_many(&[dst, args[first]]) else {
                return;
            };
            let result = match zset_of(latches.nth_ref(1).value()) {
                Ok(None) => None,
                Ok(Some(z)) => {
                    let (from, n) = select(
                        z,
                        kind,
                        rev,
                        ranks,
                        score.as_ref(),
                        lex.as_ref(),
                        offset,
                        limit,
                    );
                    // Redis starts a rank result as a skiplist when it is
                    // longer than the listpack limit, any other as a
                    // listpack converted as members are added.
                    let mut out = if kind == Kind::Rank && n as u64 > lim.entries {
                        ZSet::new_skiplist()
                    } else {
                        ZSet::new_listpack()
                    };
                    for (m, s) in z.iter_from(from, rev).take(n) {
                        out.set(m, s, lim);
                    }
                    Some(out)
                }
                Err(e) => {
                    drop(latches);
                    return ctx.error(e);
                }
            };
            let len = result.as_ref().map_or(0, ZSet::len);
            let d = latches.nth(0);
            match result {
                Some(z) if !z.is_empty() => d.set_with_expire(Value::ZSet(z), None),
                _ => {
                    d.delete();
                }
            }
            drop(latches);
            if len > 0 {
                let db = ctx.keys.selected();
                super::super::blocking::signal_ready(ctx.shared, ctx.client, db, dst);
            }
            ctx.out.int(len as i64);
        }
    }
}

pub(super) fn zrange(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 1, Dest::Client, Kind::Auto, None);
}

pub(super) fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 2, Dest::Store(args[1]), Kind::Auto, None);
}

pub(super) fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 1, Dest::Client, Kind::Rank, Some(true));
}

pub(super) fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 1, Dest::Client, Kind::Score, Some(false));
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 1, Dest::Client, Kind::Score, Some(true));
}

pub(super) fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 1, Dest::Client, Kind::Lex, Some(false));
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    range_generic(ctx, args, 1, Dest::Client, Kind::Lex, Some(true));
}

pub(super) fn zcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(r) = ScoreRange::parse(args[2], args[3]) else {
        return ctx.error(NOT_FLOAT_RANGE);
    };
    super::with_zset(ctx, args[1], |out, z| {
        out.int(z.map_or(0, |z| {
            let (s, e) = r.ranks(z);
            e - s
        }) as i64)
    });
}

pub(super) fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(r) = LexRange::parse(args[2], args[3]) else {
        return ctx.error(NOT_LEX_RANGE);
    };
    super::with_zset(ctx, args[1], |out, z| {
        out.int(z.map_or(0, |z| {
            select(z, Kind::Lex, false, (0, 0), None, Some(&r), 0, -1).1
        }) as i64)
    });
}

fn remrange_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) {
    let (mut ranks, mut score, mut lex) = ((0, 0), None, None);
    match kind {
        Kind::Score => match ScoreRange::parse(args[2], args[3]) {
            Some(r) => score = Some(r),
            None => return ctx.error(NOT_FLOAT_RANGE),
        },
        Kind::Lex => match LexRange::parse(args[2], args[3]) {
            Some(r) => lex = Some(r),
            None => return ctx.error(NOT_LEX_RANGE),
        },
        _ => {
            let (Some(s), Some(e)) = (
                crate::util::num::parse_i64(args[2]),
                crate::util::num::parse_i64(args[3]),
            ) else {
                return ctx.error(errors::NOT_INTEGER);
            };
            ranks = (s, e);
        }
    }
    let Ok(latch) = ctx.keys.write_existing(args[1]) else {
        return;
    };
    let Some(mut latch) = latch else {
        return ctx.out.int(0);
    };
    let mut z = match zset_of(latch.value()) {
        Ok(Some(z)) => z.clone(),
        Ok(None) => unreachable!("write_existing hands out live keys"),
        Err(e) => {
            drop(latch);
            return ctx.error(e);
        }
    };
    let (from, n) = select(&z, kind, false, ranks, score.as_ref(), lex.as_ref(), 0, -1);
    let doomed: Vec<Vec<u8>> = z
        .iter_from(from, false)
        .take(n)
        .map(|(m, _)| m.to_vec())
        .collect();
    for m in &doomed {
        z.remove(m);
    }
    if n > 0 {
        publish(&mut latch, z);
    }
    drop(latch);
    ctx.out.int(n as i64);
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) {
    remrange_generic(ctx, args, Kind::Rank);
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) {
    remrange_generic(ctx, args, Kind::Score);
}

pub(super) fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) {
    remrange_generic(ctx, args, Kind::Lex);
}
