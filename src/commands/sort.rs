//! SORT and SORT_RO, as Redis 7.0 answers them (`sort.c` is the spec).
//!
//! The source key is read once and its elements copied out; the keys the
//! BY and GET patterns name are then read one by one through `ctx.keys`
//! (each read sees that key as of its own instant, as Redis, which runs the
//! whole command alone, sees them all as of one). STORE writes the result
//! as a list under the destination's latch, or deletes the destination when
//! the result is empty, and then serves clients blocked on it.

use super::flags::*;
use super::key_flags::*;
use super::keys::count_lookups;
use super::{acl, blocking, errors, BeginSearch, Command, Ctx, FindKeys, KeySpec, KeySpecEntry};
use crate::types::list::List;
use crate::types::Value;
use std::cmp::Ordering;

const G: &str = "generic";
const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";
const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

const BY_GET_NOTES: &str = "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";
const STORE_NOTES: &str = "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array";

const SORT_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RO | ACCESS),
    KeySpecEntry::new(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes(BY_GET_NOTES),
    KeySpecEntry::new(OW | UPDATE, BeginSearch::Unknown, FindKeys::Unknown).notes(STORE_NOTES),
];
const SORT_RO_KEYS: &[KeySpecEntry] = &[
    KeySpecEntry::one(1, RO | ACCESS),
    KeySpecEntry::new(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes(BY_GET_NOTES),
];

const ACL_CATS: u64 = acl::SET | acl::SORTEDSET | acl::LIST | acl::SLOW | acl::DANGEROUS;

pub static COMMANDS: &[Command] = &[
    Command::new(
        "sort",
        -2,
        WRITE | DENYOOM | MOVABLE_KEYS,
        KeySpec::one(1),
        acl::WRITE | ACL_CATS,
        sort,
    )
    .key_specs(SORT_KEYS)
    .keys_with(sort_keys)
    .key_flags_with(sort_key_flags)
    .doc(
        G,
        "1.0.0",
        "Sort the elements in a list, set or sorted set",
        COMPLEXITY,
    ),
    Command::new(
        "sort_ro",
        -2,
        READONLY | MOVABLE_KEYS,
        KeySpec::one(1),
        acl::READ | ACL_CATS,
        sort_ro,
    )
    .key_specs(SORT_RO_KEYS)
    .keys_with(sort_ro_keys)
    .key_flags_with(sort_key_flags)
    .doc(
        G,
        "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        COMPLEXITY,
    ),
];

/// SORT's keys as Redis's `sortGetKeys` finds them: the sorted key, and the
/// last STORE destination (LIMIT's two values and BY's and GET's pattern
/// are skipped over).
fn sort_keys(args: &[&[u8]]) -> Vec<usize> {
    let mut out = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    out.extend(store);
    out
}

fn sort_ro_keys(_args: &[&[u8]]) -> Vec<usize> {
    vec![1]
}

fn sort_key_flags(_args: &[&[u8]], pos: usize) -> u32 {
    if pos == 1 {
        RO | ACCESS
    } else {
        OW | UPDATE
    }
}

fn sort(ctx: &mut Ctx, args: &[&[u8]]) {
    sort_generic(ctx, args, false);
}

fn sort_ro(ctx: &mut Ctx, args: &[&[u8]]) {
    sort_generic(ctx, args, true);
}

/// The parsed options of one SORT.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    by: Option<&'a [u8]>,
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse<'a>(ctx: &mut Ctx, args: &[&'a [u8]], readonly: bool) -> Option<Options<'a>> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if a.eq_ignore_ascii_case(b"asc") {
            o.desc = false;
        } else if a.eq_ignore_ascii_case(b"desc") {
            o.desc = true;
        } else if a.eq_ignore_ascii_case(b"alpha") {
            o.alpha = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            let (Some(s), Some(c)) = (
                crate::util::num::parse_i64(args[j + 1]),
                crate::util::num::parse_i64(args[j + 2]),
            ) else {
                ctx.out.error(errors::NOT_INTEGER);
                return None;
            };
            o.limit_start = s;
            o.limit_count = c;
            j += 2;
        } else if !readonly && a.eq_ignore_ascii_case(b"store") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if a.eq_ignore_ascii_case(b"by") && left >= 1 {
            o.by = Some(args[j + 1]);
            o.dontsort = !args[j + 1].contains(&b'*');
            j += 1;
        } else if a.eq_ignore_ascii_case(b"get") && left >= 1 {
            o.gets.push(args[j + 1]);
            j += 1;
        } else {
            ctx.out.error(errors::SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// The type of the sorted key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// The value `pattern` names for the element `subst`, as Redis's
/// `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*`
/// is replaced by the element, and a non-empty `->field` after it reads
/// that field of a hash (else the key must hold a string). `None`: no
/// `*`, no such key or field, or the wrong type.
fn lookup(ctx: &mut Ctx, pattern: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(subst.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let rest = &pattern[star + 1..];
    let (post, field) = match rest.windows(2).position(|w| w == b"->") {
        Some(f) if f + 2 < rest.len() => (&rest[..f], Some(&rest[f + 2..])),
        _ => (rest, None),
    };
    let mut key = Vec::with_capacity(star + subst.len() + post.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(post);
    let Ok(view) = ctx.keys.read(&key) else {
        return None;
    };
    let hit = view.is_some();
    let found = match (view.as_ref().map(|v| v.value()), field) {
        (Some(Value::Str(s)), None) => Some(s.bytes().into_owned()),
        (Some(Value::Hash(h)), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    };
    drop(view);
    count_lookups(ctx.shared, hit as u64, !hit as u64);
    found
}

/// C's `strtod` of a sort weight, as SORT checks it: the whole string (up
/// to a NUL, where C strings end) must parse, leading white space allowed,
/// the empty string is 0; NaN, overflow and underflow are refused.
fn weight(b: &[u8]) -> Option<f64> {
    let b = b.split(|&c| c == 0).next().unwrap_or(b);
    let v = super::zsets::strtod_all(b)?;
    let lower = String::from_utf8_lossy(b).to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None;
    }
    if v == 0.0 && !lower.contains("0x") {
        let mant = lower.split('e').next().unwrap_or("");
        if mant.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
    }
    Some(v)
}

/// One element to sort, with what it is sorted by.
struct Item {
    obj: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx, args: &[&[u8]], readonly: bool) {
    let Some(mut o) = parse(ctx, args, readonly) else {
        return;
    };
    // The source, copied out in its own order.
    let Ok(view) = ctx.keys.read(args[1]) else {
        return;
    };
    count_lookups(ctx.shared, view.is_some() as u64, view.is_none() as u64);
    let (kind, elems): (Kind, Vec<Vec<u8>>) = match view.as_ref().map(|v| v.value()) {
        None => (Kind::List, Vec::new()),
        Some(Value::List(l)) => (Kind::List, l.iter().map(|e| e.to_vec()).collect()),
        Some(Value::Set(s)) => (Kind::Set, s.iter().map(|e| e.to_vec()).collect()),
        Some(Value::ZSet(z)) => (Kind::ZSet, z.iter().map(|(m, _)| m.to_vec()).collect()),
        Some(_) => {
            drop(view);
            return ctx.out.error(errors::WRONGTYPE);
        }
    };
    drop(view);

    // A set in no particular order is sorted (ALPHA) when stored or for a
    // script, so the stored list or the script's result does not depend on
    // the set's internal order.
    if o.dontsort && kind == Kind::Set && (o.store.is_some() || ctx.client.in_script) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }

    let len = elems.len() as i64;
    let mut start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let mut end = if count < 0 {
        len - 1
    } else {
        start + count - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    let mut items: Vec<Item> = if o.dontsort && kind != Kind::Set {
        // Lists and sorted sets keep their own order (reversed by DESC),
        // and LIMIT takes its range of that order.
        let picked: Vec<Vec<u8>> = if end >= start {
            let n = (end - start + 1) as usize;
            if o.desc {
                elems
                    .into_iter()
                    .rev()
                    .skip(start as usize)
                    .take(n)
                    .collect()
            } else {
                elems.into_iter().skip(start as usize).take(n).collect()
            }
        } else {
            Vec::new()
        };
        end -= start.max(0);
        start = 0;
        if picked.is_empty() {
            end = -1;
        }
        picked
            .into_iter()
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect()
    } else {
        elems
            .into_iter()
            .map(|obj| Item {
                obj,
                score: 0.0,
                cmp: None,
            })
            .collect()
    };

    let mut conversion_error = false;
    if !o.dontsort {
        for it in &mut items {
            let byval = match o.by {
                Some(p) => match lookup(ctx, p, &it.obj) {
                    Some(v) => v,
                    None => continue,
                },
                None => {
                    if o.alpha {
                        continue;
                    }
                    it.obj.clone()
                }
            };
            if o.alpha {
                it.cmp = Some(byval);
            } else {
                match weight(&byval) {
                    Some(v) => it.score = v,
                    None => conversion_error = true,
                }
            }
        }
        let (alpha, by, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.obj.cmp(&b.obj))
            } else if by {
                a.cmp.cmp(&b.cmp)
            } else {
                a.obj.cmp(&b.obj)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    if ctx.keys.busy().is_some() {
        return;
    }
    if conversion_error {
        return ctx.out.error(NOT_DOUBLE);
    }
    let range: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    let outputlen = if o.gets.is_empty() {
        range.len()
    } else {
        o.gets.len() * range.len()
    };

    match o.store {
        None => {
            // Look every GET up first: the reply is written whole.
            let mut rows: Vec<Option<Vec<u8>>> = Vec::with_capacity(outputlen);
            for it in range {
                if o.gets.is_empty() {
                    rows.push(Some(it.obj.clone()));
                }
                for p in &o.gets {
                    rows.push(lookup(ctx, p, &it.obj));
                }
            }
            if ctx.keys.busy().is_some() {
                return;
            }
            ctx.out.array(rows.len());
            for r in &rows {
                match r {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dst) => {
            let mut rows: Vec<Vec<u8>> = Vec::with_capacity(outputlen);
            for it in range {
                if o.gets.is_empty() {
                    rows.push(it.obj.clone());
                }
                for p in &o.gets {
                    rows.push(lookup(ctx, p, &it.obj).unwrap_or_default());
                }
            }
            if ctx.keys.busy().is_some() {
                return;
            }
            let fill = super::lists::fill(ctx);
            let Ok(mut latch) = ctx.keys.write(dst) else {
                return;
            };
            if rows.is_empty() {
                latch.delete();
            } else {
                let list = List::from_items(rows.iter().map(|r| r.as_slice()), fill);
                latch.set_with_expire(Value::List(list), None);
            }
            drop(latch);
            if !rows.is_empty() {
                let db = ctx.keys.selected();
                blocking::signal_ready(ctx.shared, ctx.client, db, dst);
            }
            ctx.out.int(rows.len() as i64);
        }
    }
}
