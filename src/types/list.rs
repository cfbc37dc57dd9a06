//! The list type: Redis 7.0's quicklist, made persistent.
//!
//! A list is a sequence of nodes, each a listpack (the same bytes Redis's
//! quicklist node holds: header, entries with back-lengths, terminator)
//! bounded by `list-max-listpack-size` exactly as Redis bounds a node
//! (negative: 4/8/16/32/64 KB, positive: an entry count, with an 8 KB
//! safety limit). The outer sequence is a persistent vector
//! (`imbl::Vector<Arc<Node>>`): a writer clones the list (O(1)), changes
//! the one or two nodes it touches (copying those nodes, at most a few KB
//! each) and publishes the copy, so readers keep reading the old version
//! lock-free and a large list is never copied whole. Each node keeps its
//! entry count, so an index is found by walking node counts, never entries
//! of other nodes.
//!
//! OBJECT ENCODING reports "quicklist" for every list, as Redis 7.0 does.

use super::set::Elem;
use crate::persistence::rdb::listpack::{self, entry_at, entry_before, EOF, HEADER};
use crate::util::size_class::reserve_to_class;
use imbl::Vector;
use std::sync::Arc;

/// Node byte limits of negative `list-max-listpack-size` values -1..-5.
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// The largest node a positive (count) limit allows, in bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's estimate of an entry's overhead when deciding whether it fits.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// The largest positive fill Redis accepts (`quicklistSetFill`).
const FILL_MAX: i32 = (1 << 15) - 1;

/// `list-max-listpack-size` clamped as Redis's quicklist clamps it.
pub fn clamp_fill(fill: i32) -> i32 {
    fill.clamp(-5, FILL_MAX)
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

impl End {
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Head)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Tail)
        } else {
            None
        }
    }
}

/// One node: a listpack and its entry count.
#[derive(Debug, PartialEq, Eq)]
pub struct Node {
    count: u32,
    /// A `Vec` so that a node no other version shares can grow and shrink
    /// in place (see [`List::push_many`]); nothing keeps spare capacity
    /// beyond one entry's reservation.
    lp: Vec<u8>,
}

impl Node {
    /// A node holding `items` in order.
    fn from_items<'a>(items: impl IntoIterator<Item = Elem<'a>>) -> Node {
        let mut lp = vec![0u8; HEADER];
        let mut count = 0u32;
        for e in items {
            put(&mut lp, e);
            count += 1;
        }
        lp.push(EOF);
        Node::finish(lp, count)
    }

    /// Fills in the header of `lp` (entries and terminator written).
    fn finish(lp: Vec<u8>, count: u32) -> Node {
        let mut node = Node { count, lp };
        node.seal();
        node
    }

    /// Adds one element at `end`, in place, encoded straight into the node
    /// (a single-element push, the common case, builds nothing else).
    fn push_one(&mut self, end: End, s: &[u8]) {
        self.reserve(listpack::entry_len_max(s));
        let old = self.lp.len();
        match end {
            End::Tail => {
                self.lp.pop();
                listpack::put_entry(&mut self.lp, s);
                self.lp.push(EOF);
            }
            End::Head => {
                listpack::put_entry(&mut self.lp, s);
                let added = self.lp.len() - old;
                self.lp[HEADER..].rotate_right(added);
            }
        }
        self.count += 1;
        self.seal();
    }

    fn reserve(&mut self, more: usize) {
        reserve_to_class(&mut self.lp, more);
    }

    /// Writes the header's total size and entry count.
    fn seal(&mut self) {
        let total = self.lp.len() as u32;
        self.lp[..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.lp[4..6].copy_from_slice(&n.to_le_bytes());
    }

    /// Adds already encoded `entries` (given in push order, each starting at
    /// the offset `starts` names) at `end`, in place.
    fn extend_in_place(&mut self, end: End, entries: &[u8], starts: &[usize]) {
        self.reserve(entries.len());
        match end {
            End::Tail => {
                self.lp.pop();
                self.lp.extend_from_slice(entries);
                self.lp.push(EOF);
            }
            End::Head => {
                // Pushed one by one at the head, the last pushed comes first.
                let old = self.lp.len();
                let mut stop = entries.len();
                for &st in starts.iter().rev() {
                    self.lp.extend_from_slice(&entries[st..stop]);
                    stop = st;
                }
                let added = self.lp.len() - old;
                self.lp[HEADER..].rotate_right(added);
            }
        }
        self.count += starts.len() as u32;
        self.seal();
    }

    /// Removes the first (`Head`) or last `n` entries (`n` < count), in place.
    fn remove_in_place(&mut self, end: End, n: usize) {
        match end {
            End::Head => {
                let mut p = HEADER;
                for _ in 0..n {
                    p += entry_at(&self.lp, p).1;
                }
                self.lp.drain(HEADER..p);
            }
            End::Tail => {
                let mut p = self.lp.len() - 1;
                for _ in 0..n {
                    p = entry_before(&self.lp, p);
                }
                self.lp.truncate(p);
                self.lp.push(EOF);
            }
        }
        self.count -= n as u32;
        self.seal();
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The listpack bytes, as an RDB quicklist node carries them.
    pub fn listpack(&self) -> &[u8] {
        &self.lp
    }

    /// Entries in order.
    pub fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            lp: &self.lp,
            front: HEADER,
            back: self.lp.len() - 1,
        }
    }

    /// A copy with `s` added at `end`.
    fn pushed(&self, end: End, s: &[u8]) -> Node {
        let mut lp = Vec::with_capacity(self.lp.len() + s.len() + 11);
        match end {
            End::Tail => {
                lp.extend_from_slice(&self.lp[..self.lp.len() - 1]);
                listpack::put_entry(&mut lp, s);
                lp.push(EOF);
            }
            End::Head => {
                lp.extend_from_slice(&self.lp[..HEADER]);
                listpack::put_entry(&mut lp, s);
                lp.extend_from_slice(&self.lp[HEADER..]);
            }
        }
        Node::finish(lp, self.count + 1)
    }

    /// A copy without its first (`Head`) or last `n` entries (`n` < count).
    fn without(&self, end: End, n: usize) -> Node {
        let mut lp = Vec::with_capacity(self.lp.len());
        lp.extend_from_slice(&self.lp[..HEADER]);
        match end {
            End::Head => {
                let mut p = HEADER;
                for _ in 0..n {
                    p += entry_at(&self.lp, p).1;
                }
                lp.extend_from_slice(&self.lp[p..]);
            }
            End::Tail => {
                let mut p = self.lp.len() - 1;
                for _ in 0..n {
                    p = entry_before(&self.lp, p);
                }
                lp.extend_from_slice(&self.lp[HEADER..p]);
                lp.push(EOF);
            }
        }
        Node::finish(lp, self.count - n as u32)
    }

    /// Whether Redis's quicklist would add an element of `sz` bytes to this
    /// node (`_quicklistNodeAllowInsert`).
    fn allows_insert(&self, fill: i32, sz: usize) -> bool {
        fits(
            self.lp.len() + sz + SIZE_ESTIMATE_OVERHEAD,
            self.count as usize + 1,
            fill,
        )
    }

    /// Heap bytes of the node, its `Arc` included.
    fn heap_bytes(&self) -> usize {
        self.lp.capacity() + std::mem::size_of::<Node>() + 16
    }
}

/// Listpack bytes of the node at `end` (there is one).
fn edge_len(list: &List, end: End) -> usize {
    list.edge(end).map_or(0, |n| n.lp.len())
}

/// Whether a node of `size` bytes and `count` entries is within `fill`.
fn fits(size: usize, count: usize, fill: i32) -> bool {
    if fill < 0 {
        let level = (-(fill as i64) - 1) as usize;
        if level < OPTIMIZATION_LEVEL.len() && size <= OPTIMIZATION_LEVEL[level] {
            return true;
        }
    }
    size <= SIZE_SAFETY_LIMIT && (count as i64) <= i64::from(fill)
}

fn put(lp: &mut Vec<u8>, e: Elem<'_>) {
    e.with_bytes(|b| listpack::put_entry(lp, b));
}

/// The entries of one node, both ways.
pub struct NodeIter<'a> {
    lp: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (e, n) = entry_at(self.lp, self.front);
        self.front += n;
        Some(e)
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back = entry_before(self.lp, self.back);
        Some(entry_at(self.lp, self.back).0)
    }
}

/// A list value. Never empty in the keyspace (the key is deleted when the
/// last element goes). Boxed, so a `Value` stays the size of a string.
#[derive(Clone, Debug)]
pub struct List(Box<Inner>);

/// What a [`List`] boxes.
#[derive(Clone, Debug)]
pub struct Inner {
    /// The first node, when there are at least two; kept out of the vector so a push or
    /// pop at the head replaces one pointer instead of path-copying the vector.
    head: Option<Arc<Node>>,
    /// The nodes between `head` and `tail`.
    nodes: Vector<Arc<Node>>,
    /// The last node, whenever the list has one (the only node of a one-node list).
    tail: Option<Arc<Node>>,
    len: usize,
    /// Bytes of every node's listpack.
    bytes: usize,
    /// The node limit, clamped: `list-max-listpack-size` when the list was created (or
    /// loaded), kept for its whole life as Redis's quicklist keeps its `fill`.
    fill: i32,
    /// Shared by every version cloned from this one: while another version
    /// is alive, this one shares all but a node and a path with it.
    lineage: Arc<()>,
}

impl std::ops::Deref for List {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::ops::DerefMut for List {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.0
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl List {
    /// An empty list whose nodes `fill` (`list-max-listpack-size`) bounds.
    pub fn new(fill: i32) -> List {
        List(Box::new(Inner {
            head: None,
            nodes: Vector::new(),
            tail: None,
            len: 0,
            bytes: 0,
            fill: clamp_fill(fill),
            lineage: Arc::new(()),
        }))
    }

    /// A list of `items` in order, packed into nodes as pushes to the tail
    /// would pack them.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: i32) -> List {
        let mut l = List::new(fill);
        for s in items {
            l.push(End::Tail, s);
        }
        l
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The nodes, head first (DUMP).
    pub fn nodes(&self) -> impl DoubleEndedIterator<Item = &Node> + '_ {
        self.node_iter().map(|n| &**n)
    }

    /// Every node, head first: `head`, the vector, `tail`.
    fn node_iter(&self) -> impl DoubleEndedIterator<Item = &Arc<Node>> + '_ {
        self.head
            .iter()
            .chain(self.nodes.iter())
            .chain(self.tail.iter())
    }

    fn node_count(&self) -> usize {
        self.head.is_some() as usize + self.nodes.len() + self.tail.is_some() as usize
    }

    /// The node at `end`.
    fn edge(&self, end: End) -> Option<&Arc<Node>> {
        match end {
            End::Head => self.head.as_ref().or(self.tail.as_ref()),
            End::Tail => self.tail.as_ref(),
        }
    }

    /// The node at `end`, mutably.
    fn edge_mut(&mut self, end: End) -> Option<&mut Arc<Node>> {
        match end {
            End::Head if self.head.is_some() => self.head.as_mut(),
            _ => self.tail.as_mut(),
        }
    }

    /// Adds a node at `end`.
    fn push_node(&mut self, end: End, node: Arc<Node>) {
        match end {
            End::Tail => {
                if let Some(t) = self.tail.take() {
                    if self.head.is_none() {
                        self.head = Some(t);
                    } else {
                        self.nodes.push_back(t);
                    }
                }
                self.tail = Some(node);
            }
            End::Head => {
                if self.tail.is_none() {
                    self.tail = Some(node);
                } else {
                    if let Some(h) = self.head.take() {
                        self.nodes.push_front(h);
                    }
                    self.head = Some(node);
                }
            }
        }
    }

    /// Removes the node at `end` (there is one).
    fn pop_node(&mut self, end: End) {
        match end {
            End::Tail => {
                self.tail = self.nodes.pop_back().or_else(|| self.head.take());
            }
            End::Head if self.head.is_some() => self.head = self.nodes.pop_front(),
            End::Head => self.tail = None,
        }
    }

    /// Moves `head` and `tail` into the vector, for the edits that address nodes by index;
    /// [`List::gather`] takes them out again.
    fn spill(&mut self) {
        if let Some(h) = self.head.take() {
            self.nodes.push_front(h);
        }
        if let Some(t) = self.tail.take() {
            self.nodes.push_back(t);
        }
    }

    fn gather(&mut self) {
        self.tail = self.nodes.pop_back();
        if self.tail.is_some() {
            self.head = self.nodes.pop_front();
        }
    }

    /// Appends a node as loaded from RDB (not empty).
    pub fn append_node(&mut self, items: &[Vec<u8>]) {
        let node = Node::from_items(items.iter().map(|s| Elem::Bytes(s)));
        self.len += node.len();
        self.bytes += node.lp.len();
        self.push_node(End::Tail, Arc::new(node));
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Elem<'_>> + '_ {
        self.node_iter().flat_map(|n| n.iter())
    }

    /// Adds `s` at `end`, in the end node if Redis's quicklist would put it
    /// there, else in a new node.
    pub fn push(&mut self, end: End, s: &[u8]) {
        self.push_many(end, &[s]);
    }

    /// Adds `elems` one by one at `end` (LPUSH/RPUSH with several elements), packed into
    /// nodes exactly as that many [`List::push`] calls would pack them, but building each
    /// changed node once instead of copying it per element. An end node that no other
    /// version of the list shares (a copy made earlier under the same latch) grows in
    /// place; a shared one is copied.
    pub fn push_many(&mut self, end: End, elems: &[&[u8]]) {
        let fill = self.fill;
        if let [s] = elems {
            let unique = self
                .edge_mut(end)
                .filter(|n| n.allows_insert(fill, s.len()))
                .and_then(Arc::get_mut);
            if let Some(node) = unique {
                let before = node.lp.len();
                node.push_one(end, s);
                let grown = node.lp.len() - before;
                self.len += 1;
                self.bytes += grown;
                return;
            }
        }
        let mut i = 0;
        while i < elems.len() {
            let fits_edge = self
                .edge(end)
                .is_some_and(|n| n.allows_insert(fill, elems[i].len()));
            let (mut size, mut count) = match self.edge(end) {
                Some(n) if fits_edge => (n.lp.len(), n.count as usize),
                _ => (HEADER + 1, 0),
            };
            // The new entries in push order, encoded back to back, and where each starts.
            let mut entries = Vec::new();
            let mut starts = Vec::new();
            while i < elems.len() {
                let s = elems[i];
                if count > 0 && !fits(size + s.len() + SIZE_ESTIMATE_OVERHEAD, count + 1, fill) {
                    break;
                }
                starts.push(entries.len());
                listpack::put_entry(&mut entries, s);
                size += entries.len() - starts[starts.len() - 1];
                count += 1;
                i += 1;
            }
            self.len += starts.len();
            if fits_edge {
                let edge = self.edge_mut(end).expect("an end node");
                let before = edge.lp.len();
                match Arc::get_mut(edge) {
                    Some(node) => node.extend_in_place(end, &entries, &starts),
                    None => {
                        let mut node = Node {
                            count: edge.count,
                            lp: Vec::with_capacity(before + entries.len()),
                        };
                        node.lp.extend_from_slice(&edge.lp);
                        node.extend_in_place(end, &entries, &starts);
                        *edge = Arc::new(node);
                    }
                }
                self.bytes = self.bytes + edge_len(self, end) - before;
            } else {
                let mut lp = Vec::with_capacity(size);
                lp.extend_from_slice(&[0, 0, 0, 0, 0, 0, EOF]);
                let mut node = Node { count: 0, lp };
                node.extend_in_place(end, &entries, &starts);
                self.bytes += node.lp.len();
                self.push_node(end, Arc::new(node));
            }
        }
    }

    /// Removes up to `n` elements from `end` and returns them in pop order.
    pub fn pop(&mut self, end: End, n: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(n.min(self.len));
        while out.len() < n {
            let Some(node) = self.edge(end) else {
                break;
            };
            let want = n - out.len();
            let node = Arc::clone(node);
            let take = want.min(node.len());
            match end {
                End::Head => out.extend(node.iter().take(take).map(Elem::to_vec)),
                End::Tail => out.extend(node.iter().rev().take(take).map(Elem::to_vec)),
            }
            self.len -= take;
            self.bytes -= node.lp.len();
            if take == node.len() {
                self.pop_node(end);
                continue;
            }
            drop(node);
            let edge = self.edge_mut(end).expect("an end node");
            match Arc::get_mut(edge) {
                // Not shared with another version: shrink it in place.
                Some(n) => n.remove_in_place(end, take),
                None => *edge = Arc::new(edge.without(end, take)),
            }
            self.bytes += edge_len(self, end);
        }
        out
    }

    /// The node holding element `i` (< len) and the offset in it, walking
    /// node counts from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut acc = 0;
            for (k, n) in self.node_iter().enumerate() {
                if i < acc + n.len() {
                    return (k, i - acc);
                }
                acc += n.len();
            }
        } else {
            let mut acc = self.len;
            let mut k = self.node_count();
            for n in self.node_iter().rev() {
                k -= 1;
                acc -= n.len();
                if i >= acc {
                    return (k, i - acc);
                }
            }
        }
        unreachable!("index {i} within a list of {}", self.len)
    }

    /// Redis's index (negative from the tail) as a position, if in range.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let i = if index < 0 {
            self.len as i64 + index
        } else {
            index
        };
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }

    /// Element `i` (< len).
    pub fn get(&self, i: usize) -> Elem<'_> {
        let (k, off) = self.locate(i);
        let node = self.node_iter().nth(k).expect("node within list");
        node.iter().nth(off).expect("offset within node")
    }

    /// Elements from position `from` (< len) on, head to tail.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (k, off) = if from < self.len {
            self.locate(from)
        } else {
            (self.node_count(), 0)
        };
        self.node_iter()
            .skip(k)
            .enumerate()
            .flat_map(move |(j, n)| n.iter().skip(if j == 0 { off } else { 0 }))
    }

    /// Replaces node `k` by `nodes` (none: removes it).
    fn replace_node(&mut self, k: usize, nodes: Vec<Node>) {
        let old = self.nodes.remove(k);
        self.len -= old.len();
        self.bytes -= old.lp.len();
        for (j, n) in nodes.into_iter().enumerate() {
            self.len += n.len();
            self.bytes += n.lp.len();
            self.nodes.insert(k + j, Arc::new(n));
        }
    }

    /// Replaces element `i` (< len) by `s` (LSET), in its node.
    fn set_spilled(&mut self, i: usize, s: &[u8]) {
        let (k, off) = self.locate(i);
        let node = Arc::clone(&self.nodes[k]);
        let new = Node::from_items(node.iter().enumerate().map(|(j, e)| {
            if j == off {
                Elem::Bytes(s)
            } else {
                e
            }
        }));
        self.replace_node(k, vec![new]);
    }

    /// Inserts `s` before (`after` false) or after the element at `pivot` (< len), as
    /// LINSERT does, choosing the node exactly as Redis 7.0's `_quicklistInsert`: in the
    /// pivot's node if it has room; else at the head of the next node (after the node's last
    /// element) or the tail of the previous one (before its first) if that has room; else in
    /// a new node there; else the node is split at the pivot and the neighbours merged.
    fn insert_at_spilled(&mut self, pivot: usize, after: bool, s: &[u8]) {
        let fill = self.fill;
        let sz = s.len();
        let (k, off) = self.locate(pivot);
        let node = Arc::clone(&self.nodes[k]);
        let full = !node.allows_insert(fill, sz);
        let at_tail = after && off + 1 == node.len();
        let at_head = !after && off == 0;
        let avail_next =
            at_tail && k + 1 < self.nodes.len() && self.nodes[k + 1].allows_insert(fill, sz);
        let avail_prev = at_head && k > 0 && self.nodes[k - 1].allows_insert(fill, sz);
        let pos = off + after as usize;
        if !full {
            let items = node
                .iter()
                .take(pos)
                .chain(std::iter::once(Elem::Bytes(s)))
                .chain(node.iter().skip(pos));
            self.replace_node(k, vec![Node::from_items(items)]);
        } else if at_tail && avail_next {
            let next = Arc::clone(&self.nodes[k + 1]);
            self.replace_node(k + 1, vec![next.pushed(End::Head, s)]);
        } else if at_head && avail_prev {
            let prev = Arc::clone(&self.nodes[k - 1]);
            self.replace_node(k - 1, vec![prev.pushed(End::Tail, s)]);
        } else if at_tail || at_head {
            let new = Arc::new(Node::from_items([Elem::Bytes(s)]));
            self.len += 1;
            self.bytes += new.lp.len();
            self.nodes.insert(k + after as usize, new);
        } else {
            let items: Vec<Elem<'_>> = node.iter().collect();
            let one = std::iter::once(Elem::Bytes(s));
            let (a, b, center) = if after {
                let orig = Node::from_items(items[..=off].iter().copied());
                let new = Node::from_items(one.chain(items[off + 1..].iter().copied()));
                (orig, new, k)
            } else {
                let new = Node::from_items(items[..off].iter().copied().chain(one));
                let orig = Node::from_items(items[off..].iter().copied());
                (new, orig, k + 1)
            };
            self.replace_node(k, vec![a, b]);
            self.merge_around(center, fill);
        }
    }

    /// Whether nodes `a` and `b` may be merged (`_quicklistNodeAllowMerge`).
    fn allow_merge(&self, a: usize, b: usize, fill: i32) -> bool {
        let (Some(x), Some(y)) = (self.nodes.get(a), self.nodes.get(b)) else {
            return false;
        };
        fits(x.lp.len() + y.lp.len() - 11, x.len() + y.len(), fill)
    }

    /// Merges node `a` and the one after it into one.
    fn merge(&mut self, a: usize) {
        let (x, y) = (Arc::clone(&self.nodes[a]), Arc::clone(&self.nodes[a + 1]));
        let merged = Node::from_items(x.iter().chain(y.iter()));
        self.replace_node(a + 1, Vec::new());
        self.replace_node(a, vec![merged]);
    }

    /// Redis's `_quicklistMergeNodes` around node `center` after a split.
    fn merge_around(&mut self, mut center: usize, fill: i32) {
        if center >= 2 && self.allow_merge(center - 1, center - 2, fill) {
            self.merge(center - 2);
            center -= 1;
        }
        if self.allow_merge(center + 1, center + 2, fill) {
            self.merge(center + 1);
        }
        let target = if center >= 1 && self.allow_merge(center, center - 1, fill) {
            self.merge(center - 1);
            center - 1
        } else {
            center
        };
        if self.allow_merge(target, target + 1, fill) {
            self.merge(target);
        }
    }

    /// Keeps only positions `start..=end` (LTRIM; empty if `start > end`).
    fn retain_range_spilled(&mut self, start: usize, end: usize) {
        if start > end || start >= self.len {
            self.nodes = Vector::new();
            self.len = 0;
            self.bytes = 0;
            return;
        }
        let end = end.min(self.len - 1);
        let tail_drop = self.len - 1 - end;
        self.remove_from(End::Tail, tail_drop);
        self.remove_from(End::Head, start);
    }

    /// Drops `n` elements from `end` without returning them.
    fn remove_from(&mut self, end: End, mut n: usize) {
        while n > 0 {
            let node = match end {
                End::Head => self.nodes.front(),
                End::Tail => self.nodes.back(),
            };
            let node = Arc::clone(node.expect("n <= len"));
            if n >= node.len() {
                match end {
                    End::Head => self.nodes.pop_front(),
                    End::Tail => self.nodes.pop_back(),
                };
                self.len -= node.len();
                self.bytes -= node.lp.len();
                n -= node.len();
            } else {
                let rest = node.without(end, n);
                let k = match end {
                    End::Head => 0,
                    End::Tail => self.nodes.len() - 1,
                };
                self.replace_node(k, vec![rest]);
                n = 0;
            }
        }
    }

    /// Removes elements equal to `s` (LREM): up to `count` from the head
    /// (`from_tail` false) or the tail, every one if `count` is 0. How many.
    fn remove_eq_spilled(&mut self, s: &[u8], count: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        let mut drop_nodes = Vec::new();
        for k in order {
            if count != 0 && removed == count {
                break;
            }
            let node = Arc::clone(&self.nodes[k]);
            let mut keep: Vec<bool> = vec![true; node.len()];
            let mut hit = false;
            let elems: Vec<Elem<'_>> = node.iter().collect();
            let positions: Vec<usize> = if from_tail {
                (0..elems.len()).rev().collect()
            } else {
                (0..elems.len()).collect()
            };
            for j in positions {
                let e = elems[j];
                if count != 0 && removed == count {
                    break;
                }
                if e.with_bytes(|b| b == s) {
                    keep[j] = false;
                    removed += 1;
                    hit = true;
                }
            }
            if !hit {
                continue;
            }
            let rest = Node::from_items(
                node.iter()
                    .zip(keep.iter())
                    .filter(|(_, k)| **k)
                    .map(|(e, _)| e),
            );
            self.len -= node.len() - rest.len();
            self.bytes = self.bytes - node.lp.len() + rest.lp.len();
            if rest.is_empty() {
                drop_nodes.push(k);
            }
            self.nodes[k] = Arc::new(rest);
        }
        drop_nodes.sort_unstable();
        for k in drop_nodes.into_iter().rev() {
            let n = self.nodes.remove(k);
            self.bytes -= n.lp.len();
        }
        removed
    }

    /// Replaces element `i` (< len) by `s` (LSET), in its node.
    pub fn set(&mut self, i: usize, s: &[u8]) {
        self.spill();
        self.set_spilled(i, s);
        self.gather();
    }

    /// Inserts `s` before or after the element at `pivot` (LINSERT); see
    /// [`List::insert_at_spilled`].
    pub fn insert_at(&mut self, pivot: usize, after: bool, s: &[u8]) {
        self.spill();
        self.insert_at_spilled(pivot, after, s);
        self.gather();
    }

    /// Keeps only positions `start..=end` (LTRIM; empty if `start > end`).
    pub fn retain_range(&mut self, start: usize, end: usize) {
        self.spill();
        self.retain_range_spilled(start, end);
        self.gather();
    }

    /// Removes elements equal to `s` (LREM): up to `count` from the head
    /// (`from_tail` false) or the tail, every one if `count` is 0. How many.
    pub fn remove_eq(&mut self, s: &[u8], count: usize, from_tail: bool) -> usize {
        self.spill();
        let n = self.remove_eq_spilled(s, count, from_tail);
        self.gather();
        n
    }

    /// Whether `self` and `other` are versions of one list (one cloned from
    /// the other by writes), sharing most of their nodes.
    pub fn same_lineage(&self, other: &List) -> bool {
        Arc::ptr_eq(&self.lineage, &other.lineage)
    }

    /// Heap bytes of the whole list, shared nodes included: what freeing it
    /// gives back once no other version is left.
    pub fn whole_bytes(&self) -> usize {
        let per_node = std::mem::size_of::<Node>() + 16 + 8 + 8;
        std::mem::size_of::<Inner>() + self.bytes + self.node_count() * per_node
    }

    /// Heap bytes freeing this version gives back: the whole list for the
    /// last version of a lineage; a version another one was cloned from or
    /// into shares all but an end node and a path of the vector with it.
    pub fn heap_bytes(&self) -> usize {
        if Arc::strong_count(&self.lineage) == 1 {
            return self.whole_bytes();
        }
        let edge = self.tail.as_ref().map_or(0, |n| n.heap_bytes());
        (std::mem::size_of::<Inner>() + 2 * edge + 64 * 8 * 3).min(self.whole_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(Elem::to_vec).collect()
    }

    /// Pushes and pops change end nodes in place only when no other version
    /// shares them: a clone taken before stays as it was.
    #[test]
    fn versions_sharing_nodes_stay_unchanged() {
        for fill in [-2, 3] {
            let mut base = List::new(fill);
            for i in 0..20 {
                base.push(End::Tail, format!("b{i}").as_bytes());
            }
            let before = items(&base);
            let mut next = base.clone();
            let mut model: std::collections::VecDeque<Vec<u8>> = before.iter().cloned().collect();
            for i in 0..50 {
                let s = format!("n{i}");
                match i % 5 {
                    0 => {
                        next.push(End::Head, s.as_bytes());
                        model.push_front(s.into_bytes());
                    }
                    1 | 2 => {
                        next.push_many(End::Tail, &[s.as_bytes(), b"x"]);
                        model.push_back(s.into_bytes());
                        model.push_back(b"x".to_vec());
                    }
                    3 => {
                        let got = next.pop(End::Head, 2);
                        let want: Vec<_> = (0..2).filter_map(|_| model.pop_front()).collect();
                        assert_eq!(got, want);
                    }
                    _ => {
                        let got = next.pop(End::Tail, 1);
                        assert_eq!(got, vec![model.pop_back().unwrap()]);
                    }
                }
                assert_eq!(items(&base), before, "fill {fill}, step {i}");
                assert_eq!(
                    items(&next),
                    Vec::from(model.clone()),
                    "fill {fill}, step {i}"
                );
                assert_eq!(next.len(), model.len());
                let bytes: usize = next.nodes().map(|n| n.listpack().len()).sum();
                assert_eq!(next.bytes, bytes);
                for n in next.nodes() {
                    let lp = n.listpack();
                    assert_eq!(
                        u32::from_le_bytes(lp[..4].try_into().unwrap()) as usize,
                        lp.len()
                    );
                    assert_eq!(*lp.last().unwrap(), EOF);
                }
            }
        }
    }

    #[test]
    fn push_pop_and_nodes() {
        let mut l = List::new(4);
        for i in 0..1000 {
            l.push(End::Tail, format!("v{i}").as_bytes());
        }
        assert_eq!(l.nodes().count(), 250);
        assert_eq!(l.get(999).to_vec(), b"v999");
        assert_eq!(l.get(4).to_vec(), b"v4");
        l.push(End::Head, b"-5");
        assert_eq!(l.get(0), Elem::Int(-5));
        assert_eq!(
            l.pop(End::Head, 3),
            vec![b"-5".to_vec(), b"v0".to_vec(), b"v1".to_vec()]
        );
        assert_eq!(
            l.pop(End::Tail, 2),
            vec![b"v999".to_vec(), b"v998".to_vec()]
        );
        assert_eq!(l.len(), 996);
        assert_eq!(
            l.iter_from(995).map(Elem::to_vec).collect::<Vec<_>>(),
            [b"v997"]
        );
        assert_eq!(l.iter().next_back().unwrap().to_vec(), b"v997");
        let all = l.pop(End::Tail, 5000);
        assert_eq!(all.len(), 996);
        assert!(l.is_empty() && l.nodes().count() == 0);
    }

    #[test]
    fn push_many_packs_like_single_pushes() {
        let elems: Vec<Vec<u8>> = (0..5000)
            .map(|i| {
                if i % 7 == 0 {
                    vec![b'x'; i % 300]
                } else {
                    i.to_string().into_bytes()
                }
            })
            .collect();
        let refs: Vec<&[u8]> = elems.iter().map(|e| e.as_slice()).collect();
        for fill in [-5, -2, -1, 0, 1, 3, 128] {
            for end in [End::Head, End::Tail] {
                let mut one = List::from_items([&b"seed"[..], b"1"], fill);
                let mut many = one.clone();
                for chunk in refs.chunks(37) {
                    for e in chunk {
                        one.push(end, e);
                    }
                    many.push_many(end, chunk);
                }
                assert_eq!(one.len(), many.len());
                assert_eq!(one.bytes, many.bytes);
                for (k, (a, b)) in one.nodes().zip(many.nodes()).enumerate() {
                    assert_eq!(
                        (a.count, a.lp.len()),
                        (b.count, b.lp.len()),
                        "fill {fill} {end:?} node {k}"
                    );
                    assert!(a == b, "fill {fill} {end:?} node {k}");
                }
            }
        }
    }

    #[test]
    fn byte_limits() {
        let mut l = List::new(-2);
        for _ in 0..10000 {
            l.push(End::Tail, b"hello");
        }
        for n in l.nodes() {
            assert!(n.listpack().len() <= 8192);
        }
        assert!(l.nodes().count() < 10);
    }

    #[test]
    fn edits() {
        let mut l = List::from_items((0..20).map(|_| &b"a"[..]), 3);
        l.set(5, b"b");
        l.insert_at(5, false, b"c");
        l.insert_at(0, false, b"d");
        l.insert_at(21, true, b"e");
        assert_eq!(l.len(), 23);
        let v = items(&l);
        assert_eq!(&v[5..8], &[b"a".to_vec(), b"c".to_vec(), b"b".to_vec()]);
        assert_eq!(l.remove_eq(b"a", 0, false), 19);
        assert_eq!(items(&l), [b"d", b"c", b"b", b"e"]);
        l.retain_range(1, 2);
        assert_eq!(items(&l), [b"c", b"b"]);
        let mut l = List::from_items((0..20).map(|_| &b"a"[..]), 3);
        assert_eq!(l.remove_eq(b"a", 5, true), 5);
        assert_eq!(l.len(), 15);
    }
}
