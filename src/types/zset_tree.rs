//! A persistent order-statistic B+tree of (score, member) entries: the
//! ordered half of a large sorted set (`types::zset`).
//!
//! Leaves hold up to [`LEAF_MAX`] entries in order; inner nodes hold up to
//! [`INNER_MAX`] children, each with its entry count and its largest entry.
//! Nodes are behind `Arc`s and a writer path-copies (`Arc::make_mut`) only
//! the nodes from the root to the leaf it changes, so cloning a tree is
//! O(1) and a reader of an old version is never disturbed. The counts give
//! rank and select in O(log n), and an iterator started at any rank walks
//! on in O(1) amortized per entry: ZRANK, ZRANGE by rank and ZREMRANGEBYRANK
//! cost O(log n + m) wherever in the set they land.

use super::hash::SmallBytes;
use std::cmp::Ordering;
use std::sync::Arc;

/// Entries a leaf holds: a leaf's buffer is allocated for exactly this many
/// (1 KiB, one jemalloc size class) and never grows past it, so a leaf costs
/// its 1 KiB whatever order its entries arrived in.
pub const LEAF_MAX: usize = 1024 / std::mem::size_of::<Entry>();
pub const INNER_MAX: usize = 8;
const LEAF_MIN: usize = LEAF_MAX / 4;
const INNER_MIN: usize = INNER_MAX / 4;

/// One member with its score. Scores are never NaN.
#[derive(Clone, Debug)]
pub struct Entry {
    pub score: f64,
    pub member: SmallBytes,
}

impl Entry {
    pub fn new(score: f64, member: &[u8]) -> Entry {
        Entry {
            score,
            member: SmallBytes::new(member),
        }
    }
}

/// Redis's order: score, then member bytes (-0 and 0 are one score).
pub fn cmp_entry(score: f64, member: &[u8], e: &Entry) -> Ordering {
    score
        .partial_cmp(&e.score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member.cmp(&e.member))
}

fn cmp(a: &Entry, b: &Entry) -> Ordering {
    cmp_entry(a.score, &a.member, b)
}

#[derive(Clone, Debug)]
struct Child {
    node: Arc<Node>,
    len: usize,
    max: Entry,
}

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<Entry>),
    Inner(Vec<Child>),
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(c) => c.iter().map(|c| c.len).sum(),
        }
    }

    fn max(&self) -> Option<&Entry> {
        match self {
            Node::Leaf(v) => v.last(),
            Node::Inner(c) => c.last().map(|c| &c.max),
        }
    }

    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(c) => c.len(),
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(v) => v.len() < LEAF_MIN,
            Node::Inner(c) => c.len() < INNER_MIN,
        }
    }

    fn child(node: Node) -> Child {
        Child {
            len: node.len(),
            max: node.max().expect("a child is never empty").clone(),
            node: Arc::new(node),
        }
    }

    /// Inserts `e` (absent); returns the right half if the node split.
    /// `edge` says whether this node is the tree's first and/or last at its
    /// depth: a full edge leaf that gets a new first or last entry splits off
    /// just that entry, so ascending (or descending) loads, as ZADD with a
    /// growing score, fill their leaves rather than leave each half empty.
    fn insert(&mut self, e: Entry, edge: Edge) -> Option<Node> {
        match self {
            Node::Leaf(v) => {
                let pos = v.partition_point(|x| cmp(x, &e) == Ordering::Less);
                if v.len() < LEAF_MAX {
                    leaf_room(v, 1);
                    v.insert(pos, e);
                    return None;
                }
                let mut right = new_leaf();
                if pos == v.len() && edge.last {
                    right.push(e);
                } else if pos == 0 && edge.first {
                    right.append(v);
                    v.push(e);
                } else {
                    right.extend(v.drain(LEAF_MAX / 2..));
                    if pos <= LEAF_MAX / 2 {
                        v.insert(pos, e);
                    } else {
                        right.insert(pos - LEAF_MAX / 2, e);
                    }
                }
                Some(Node::Leaf(right))
            }
            Node::Inner(c) => {
                let i = c
                    .partition_point(|ch| cmp(&ch.max, &e) == Ordering::Less)
                    .min(c.len() - 1);
                let edge = Edge {
                    first: edge.first && i == 0,
                    last: edge.last && i == c.len() - 1,
                };
                let ch = &mut c[i];
                ch.len += 1;
                if cmp(&e, &ch.max) == Ordering::Greater {
                    ch.max = e.clone();
                }
                if let Some(right) = Arc::make_mut(&mut ch.node).insert(e, edge) {
                    ch.len = ch.node.len();
                    ch.max = ch.node.max().expect("not empty").clone();
                    c.insert(i + 1, Node::child(right));
                    if c.len() > INNER_MAX {
                        let right = c.split_off(c.len() / 2);
                        return Some(Node::Inner(right));
                    }
                }
                None
            }
        }
    }

    /// Removes the entry (score, member); whether it was there.
    fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        match self {
            Node::Leaf(v) => match v.binary_search_by(|x| cmp_entry(score, member, x).reverse()) {
                Ok(pos) => {
                    v.remove(pos);
                    true
                }
                Err(_) => false,
            },
            Node::Inner(c) => {
                let i =
                    c.partition_point(|ch| cmp_entry(score, member, &ch.max) == Ordering::Greater);
                if i == c.len() {
                    return false;
                }
                if !Arc::make_mut(&mut c[i].node).remove(score, member) {
                    return false;
                }
                let max_gone = cmp_entry(score, member, &c[i].max) == Ordering::Equal;
                lost_one(c, i, max_gone);
                true
            }
        }
    }

    /// Removes the first (`last` false) or last entry, with no search.
    fn pop_edge(&mut self, last: bool) -> Option<Entry> {
        match self {
            Node::Leaf(v) if last => v.pop(),
            Node::Leaf(v) => (!v.is_empty()).then(|| v.remove(0)),
            Node::Inner(c) => {
                let i = if last { c.len().checked_sub(1)? } else { 0 };
                let e = Arc::make_mut(&mut c[i].node).pop_edge(last)?;
                lost_one(c, i, last);
                Some(e)
            }
        }
    }
}

/// Child `i` lost one entry (its largest if `max_gone`): fixes its count and
/// largest entry, drops it if empty, and merges it with a neighbour if it is
/// now underfull.
fn lost_one(c: &mut Vec<Child>, i: usize, max_gone: bool) {
    let ch = &mut c[i];
    ch.len -= 1;
    if ch.len == 0 {
        c.remove(i);
        return;
    }
    if max_gone {
        ch.max = ch.node.max().expect("not empty").clone();
    }
    if ch.node.underfull() && c.len() > 1 {
        rebalance(c, i);
    }
}

/// Where a node sits at its depth (see [`Node::insert`]).
#[derive(Clone, Copy)]
struct Edge {
    first: bool,
    last: bool,
}

fn new_leaf() -> Vec<Entry> {
    Vec::with_capacity(LEAF_MAX)
}

/// Makes room for `more` entries without growing past [`LEAF_MAX`] (a leaf
/// copied by path copying has a buffer of its length only).
fn leaf_room(v: &mut Vec<Entry>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(LEAF_MAX - v.len());
    }
}

/// Merges the underfull child `i` with a neighbour, splitting the result
/// again if it is too wide.
fn rebalance(c: &mut Vec<Child>, i: usize) {
    let (l, r) = if i + 1 < c.len() {
        (i, i + 1)
    } else {
        (i - 1, i)
    };
    let right = c.remove(r);
    let right = Arc::unwrap_or_clone(right.node);
    let left = Arc::make_mut(&mut c[l].node);
    let split = match (left, right) {
        (Node::Leaf(a), Node::Leaf(mut b)) => {
            if a.len() + b.len() <= LEAF_MAX {
                leaf_room(a, b.len());
                a.extend(b);
                None
            } else {
                // Both halves keep (or get) a full-size buffer.
                let keep = (a.len() + b.len()) / 2;
                let mut right = new_leaf();
                if keep <= a.len() {
                    right.extend(a.drain(keep..));
                } else {
                    leaf_room(a, keep - a.len());
                    a.extend(b.drain(..keep - a.len()));
                }
                right.append(&mut b);
                Some(Node::Leaf(right))
            }
        }
        (Node::Inner(a), Node::Inner(b)) => {
            a.extend(b);
            (a.len() > INNER_MAX).then(|| Node::Inner(a.split_off(a.len() / 2)))
        }
        _ => unreachable!("siblings are at one depth"),
    };
    c[l].len = c[l].node.len();
    c[l].max = c[l].node.max().expect("not empty").clone();
    if let Some(s) = split {
        c.insert(l + 1, Node::child(s));
    }
}

/// The tree. Cloning is O(1).
#[derive(Clone, Debug)]
pub struct Tree {
    root: Arc<Node>,
    len: usize,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            root: Arc::new(Node::Leaf(new_leaf())),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts an entry that is not in the tree.
    pub fn insert(&mut self, e: Entry) {
        let root = Arc::make_mut(&mut self.root);
        let edge = Edge {
            first: true,
            last: true,
        };
        if let Some(right) = root.insert(e, edge) {
            let left = std::mem::replace(root, Node::Inner(Vec::new()));
            *root = Node::Inner(vec![Node::child(left), Node::child(right)]);
        }
        self.len += 1;
    }

    /// Removes (score, member); whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let root = Arc::make_mut(&mut self.root);
        if !root.remove(score, member) {
            return false;
        }
        self.removed_one();
        true
    }

    /// Removes and returns the lowest (`last` false) or highest entry:
    /// ZPOPMIN and ZPOPMAX, without the search a removal by entry makes.
    pub fn pop_edge(&mut self, last: bool) -> Option<Entry> {
        let e = Arc::make_mut(&mut self.root).pop_edge(last)?;
        self.removed_one();
        Some(e)
    }

    fn removed_one(&mut self) {
        self.len -= 1;
        // A root with one child gives way to it.
        while let Node::Inner(c) = &*self.root {
            if c.len() != 1 {
                break;
            }
            self.root = c[0].node.clone();
        }
        if self.len == 0 {
            self.root = Arc::new(Node::Leaf(new_leaf()));
        }
    }

    /// How many entries satisfy `pred`, which must hold for a prefix of the
    /// order (the rank of the first entry failing it). O(log n).
    pub fn partition_point(&self, pred: impl Fn(&Entry) -> bool) -> usize {
        let mut acc = 0;
        let mut node = &*self.root;
        loop {
            match node {
                Node::Leaf(v) => return acc + v.partition_point(&pred),
                Node::Inner(c) => {
                    let i = c.partition_point(|ch| pred(&ch.max));
                    acc += c[..i].iter().map(|ch| ch.len).sum::<usize>();
                    if i == c.len() {
                        return acc;
                    }
                    node = &c[i].node;
                }
            }
        }
    }

    /// The 0-based rank of (score, member), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let r = self.partition_point(|e| cmp_entry(score, member, e) == Ordering::Greater);
        let e = self.get(r)?;
        (cmp_entry(score, member, e) == Ordering::Equal).then_some(r)
    }

    /// The entry of rank `i`.
    pub fn get(&self, mut i: usize) -> Option<&Entry> {
        if i >= self.len {
            return None;
        }
        let mut node = &*self.root;
        loop {
            match node {
                Node::Leaf(v) => return v.get(i),
                Node::Inner(c) => {
                    let mut k = 0;
                    while i >= c[k].len {
                        i -= c[k].len;
                        k += 1;
                    }
                    node = &c[k].node;
                }
            }
        }
    }

    /// Entries from rank `start` on, ascending (`rev` false) or descending
    /// from `start` down to rank 0 (`rev` true).
    pub fn iter_from(&self, start: usize, rev: bool) -> Iter<'_> {
        let mut it = Iter {
            stack: Vec::new(),
            rev,
            left: 0,
        };
        if start >= self.len {
            return it;
        }
        it.left = if rev { start + 1 } else { self.len - start };
        let mut node = &*self.root;
        let mut i = start;
        loop {
            match node {
                Node::Leaf(_) => {
                    it.stack.push((node, i));
                    return it;
                }
                Node::Inner(c) => {
                    let mut k = 0;
                    while i >= c[k].len {
                        i -= c[k].len;
                        k += 1;
                    }
                    it.stack.push((node, k));
                    node = &c[k].node;
                }
            }
        }
    }

    /// Every entry in order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Depth of the tree (1 for a lone leaf), for memory estimates.
    pub fn depth(&self) -> usize {
        let mut d = 1;
        let mut node = &*self.root;
        while let Node::Inner(c) = node {
            d += 1;
            node = &c[0].node;
        }
        d
    }

    #[cfg(test)]
    fn check(&self) {
        fn walk(n: &Node, root: bool) -> usize {
            match n {
                Node::Leaf(v) => {
                    assert!(v.windows(2).all(|w| cmp(&w[0], &w[1]) == Ordering::Less));
                    assert!(v.len() <= LEAF_MAX);
                    v.len()
                }
                Node::Inner(c) => {
                    assert!(c.len() <= INNER_MAX && (root || !c.is_empty()));
                    let mut total = 0;
                    for ch in c {
                        let l = walk(&ch.node, false);
                        assert_eq!(l, ch.len);
                        assert!(l > 0);
                        assert_eq!(cmp(ch.node.max().unwrap(), &ch.max), Ordering::Equal);
                        total += l;
                    }
                    total
                }
            }
        }
        assert_eq!(walk(&self.root, true), self.len);
    }
}

/// An in-order (or reverse) walk from some rank.
pub struct Iter<'a> {
    /// (node, index of the next child or entry) from the root down.
    stack: Vec<(&'a Node, usize)>,
    rev: bool,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        if self.left == 0 {
            return None;
        }
        let &(leaf, i) = self.stack.last()?;
        let Node::Leaf(v) = leaf else {
            unreachable!("the stack ends at a leaf")
        };
        let e = &v[i];
        self.left -= 1;
        if self.left > 0 {
            self.advance();
        }
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> Iter<'a> {
    /// Moves the position at the top of the stack one step, climbing and
    /// descending as needed (the caller knows another entry exists).
    fn advance(&mut self) {
        // Climb while the top is exhausted in the walk's direction.
        loop {
            let (node, i) = self.stack.last_mut().expect("another entry exists");
            let w = node.width();
            if self.rev {
                if *i > 0 {
                    *i -= 1;
                    break;
                }
            } else if *i + 1 < w {
                *i += 1;
                break;
            }
            self.stack.pop();
        }
        // Descend to the first (last) entry of the new subtree.
        loop {
            let &(node, i) = self.stack.last().expect("not empty");
            let Node::Inner(c) = node else { break };
            let child = &*c[i].node;
            let start = if self.rev { child.width() - 1 } else { 0 };
            self.stack.push((child, start));
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    type Model = Vec<(f64, Vec<u8>)>;

    fn key(e: &Entry) -> (u64, Vec<u8>) {
        (e.score.to_bits(), e.member.to_vec())
    }

    #[test]
    fn matches_a_sorted_vec() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for round in 0..6 {
            let n_ops = [50, 500, 3000, 20000, 20000, 60000][round];
            let span = [10, 100, 1000, 5000, 100000, 30000][round];
            let mut t = Tree::new();
            let mut model: Model = Vec::new();
            let mut old: Vec<(Tree, Model)> = Vec::new();
            for op in 0..n_ops {
                let score = rng.random_range(0..span / 10 + 1) as f64;
                let member = format!("m{}", rng.random_range(0..span)).into_bytes();
                let pos = model.partition_point(|(s, m)| {
                    s.partial_cmp(&score)
                        .unwrap()
                        .then(m.as_slice().cmp(&member))
                        == Ordering::Less
                });
                let present = model
                    .get(pos)
                    .is_some_and(|(s, m)| *s == score && *m == member);
                if rng.random_bool(0.6) {
                    if !present {
                        t.insert(Entry::new(score, &member));
                        model.insert(pos, (score, member.clone()));
                    }
                } else {
                    assert_eq!(t.remove(score, &member), present);
                    if present {
                        model.remove(pos);
                    }
                }
                assert_eq!(t.len(), model.len());
                if op % 997 == 0 {
                    t.check();
                    old.push((t.clone(), model.clone()));
                }
                if !model.is_empty() && op % 13 == 0 {
                    let r = rng.random_range(0..model.len());
                    let (s, m) = &model[r];
                    assert_eq!(t.rank(*s, m), Some(r));
                    let e = t.get(r).unwrap();
                    assert_eq!((e.score, e.member.to_vec()), (*s, m.clone()));
                    let k = rng.random_range(0..20);
                    let fwd: Vec<_> = t.iter_from(r, false).take(k).map(key).collect();
                    let want: Vec<_> = model[r..]
                        .iter()
                        .take(k)
                        .map(|(s, m)| (s.to_bits(), m.clone()))
                        .collect();
                    assert_eq!(fwd, want);
                    let back: Vec<_> = t.iter_from(r, true).take(k).map(key).collect();
                    let want: Vec<_> = model[..=r]
                        .iter()
                        .rev()
                        .take(k)
                        .map(|(s, m)| (s.to_bits(), m.clone()))
                        .collect();
                    assert_eq!(back, want);
                    let below = t.partition_point(|e| e.score < *s);
                    assert_eq!(below, model.partition_point(|(x, _)| x < s));
                }
            }
            t.check();
            assert_eq!(t.iter().count(), model.len());
            assert_eq!(
                t.iter_from(model.len().saturating_sub(1), true).count(),
                model.len()
            );
            // Old versions are untouched by later writes.
            for (t, m) in old {
                t.check();
                let got: Vec<_> = t.iter().map(key).collect();
                let want: Vec<_> = m.iter().map(|(s, m)| (s.to_bits(), m.clone())).collect();
                assert_eq!(got, want);
            }
        }
    }

    fn leaves(n: &Node) -> usize {
        match n {
            Node::Leaf(_) => 1,
            Node::Inner(c) => c.iter().map(|ch| leaves(&ch.node)).sum(),
        }
    }

    #[test]
    fn ascending_and_descending_loads_fill_their_leaves() {
        let n = 100 * LEAF_MAX;
        let mut up = Tree::new();
        let mut down = Tree::new();
        for i in 0..n {
            up.insert(Entry::new(i as f64, b"m"));
            down.insert(Entry::new((n - i) as f64, b"m"));
        }
        up.check();
        down.check();
        assert_eq!(leaves(&up.root), 100);
        assert_eq!(leaves(&down.root), 100);
        // A random load leaves them between half and fully used.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut t = Tree::new();
        for _ in 0..n {
            t.insert(Entry::new(rng.random::<f64>(), b"m"));
        }
        t.check();
        let l = leaves(&t.root);
        assert!((100..=200).contains(&l), "{l} leaves");
    }

    #[test]
    fn pops_from_both_ends() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut t = Tree::new();
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        for i in 0..5_000u32 {
            let score = rng.random_range(0..300) as f64;
            let m = format!("m{i}").into_bytes();
            t.insert(Entry::new(score, &m));
            model.push((score.to_bits(), m));
        }
        model.sort_by(|a, b| {
            f64::from_bits(a.0)
                .partial_cmp(&f64::from_bits(b.0))
                .unwrap()
                .then(a.1.cmp(&b.1))
        });
        let old = t.clone();
        let mut lo = 0;
        let mut hi = model.len();
        while lo < hi {
            let last = rng.random_bool(0.5);
            let e = t.pop_edge(last).unwrap();
            let want = if last {
                hi -= 1;
                &model[hi]
            } else {
                lo += 1;
                &model[lo - 1]
            };
            assert_eq!(key(&e), *want);
            if lo % 397 == 0 {
                t.check();
            }
        }
        assert!(t.pop_edge(false).is_none());
        t.check();
        old.check();
        assert_eq!(old.len(), model.len());
    }

    #[test]
    fn drains_to_empty() {
        let mut t = Tree::new();
        for i in 0..10_000 {
            t.insert(Entry::new((i % 100) as f64, format!("{i}").as_bytes()));
        }
        t.check();
        while let Some(e) = t.get(0).cloned() {
            assert!(t.remove(e.score, &e.member));
        }
        t.check();
        assert!(t.is_empty());
        assert_eq!(t.iter().count(), 0);
    }
}
