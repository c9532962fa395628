//! [`SortedMap`] and [`SortedSet`]: string-keyed collections kept in a vector sorted by key.
//!
//! They stand in for `BTreeMap<String, _>` and `BTreeSet<String>` (issue 11): the B-tree's
//! code is some 30 KB of the wasm build, these are a binary search over a `Vec`. Iteration is
//! in the same byte order of keys as the B-tree's, and a lookup or an insert costs one binary
//! search plus moving the tail of the vector. Meant for the few entries core keeps (locks,
//! nonces, challenge parameters, the keys of the index); many entries from a server go in
//! with one sort ([`SortedMap::extend`]), or are capped (a challenge's parameters).

use std::fmt;

/// A map from strings to `V`, iterated in key order.
#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<V>(Vec<(String, V)>);

impl<V> SortedMap<V> {
    pub const fn new() -> Self {
        SortedMap(Vec::new())
    }

    /// `Ok(index)` of `key`, else `Err(index)` where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        let at = self.find(key).ok()?;
        Some(&self.0[at].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaces, if any.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`, after setting it to `value` if it had none (the first value
    /// set wins).
    pub fn or_insert(&mut self, key: String, value: V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (key, value));
                at
            }
        };
        &mut self.0[at].1
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let at = self.find(key).ok()?;
        Some(self.0.remove(at).1)
    }

    /// Adds many entries at once, a later value for a key replacing an earlier one (as a
    /// sequence of [`SortedMap::insert`]s would), in O(n log n): entries from a server (a
    /// tool list) can come in any order, and inserting them one by one in reverse order
    /// would move the whole vector each time.
    pub fn extend(&mut self, entries: Vec<(String, V)>) {
        if entries.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.0);
        all.extend(entries);
        self.0 = by_key(all);
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `entries` in key order, one per distinct key: a key's last value wins.
pub(crate) fn by_key<V>(entries: Vec<(String, V)>) -> Vec<(String, V)> {
    let mut keys = Vec::with_capacity(entries.len());
    for (k, _) in &entries {
        keys.push(k.as_str());
    }
    let order = order_by_key(&keys);
    let mut slots = Vec::with_capacity(entries.len());
    for entry in entries {
        slots.push(Some(entry));
    }
    let mut out = Vec::with_capacity(order.len());
    for i in order {
        if let Some(entry) = slots[i].take() {
            out.push(entry);
        }
    }
    out
}

/// The positions of `keys` in key order, one per distinct key: the last position of a key
/// that occurs more than once. Not generic over the values, and it sorts strings with
/// [`sort_strings`], core's one sort: each further instance of a sort costs the wasm build
/// about 3 KB gzip (measured on `extend`'s first version, which sorted positions by key).
fn order_by_key(keys: &[&str]) -> Vec<usize> {
    let mut distinct = Vec::with_capacity(keys.len());
    for k in keys {
        distinct.push(k.to_string());
    }
    sort_strings(&mut distinct);
    distinct.dedup();
    let mut last = vec![0; distinct.len()];
    for (at, key) in keys.iter().enumerate() {
        if let Ok(slot) = distinct.binary_search_by(|d| d.as_str().cmp(key)) {
            last[slot] = at;
        }
    }
    last
}

/// Sorts strings by their bytes, as `[String]::sort_unstable` does, with a heapsort: core's
/// every sort goes through here. `std`'s sort (pattern-defeating quicksort with its small-sort
/// networks and heapsort fallback) is the better sort, but its one instance cost the wasm build
/// 1,496 B gzip; this keeps O(n log n) at worst for a hostile server's sizes, at 1.4× `std`'s
/// time on 50,000 keys (`cargo bench -p mcp-auth-benches --bench core -- sorted`).
pub fn sort_strings(v: &mut [String]) {
    // Bottom-up: down to a leaf along the larger children (one comparison a level, where the
    // classic sift takes two), back up to where the root's element belongs (a few levels:
    // it came from the bottom), then the path above that moves up a level.
    fn sift(v: &mut [String], root: usize, end: usize) {
        let mut at = root;
        loop {
            let child = 2 * at + 1;
            if child >= end {
                break;
            }
            at = if child + 1 < end && v[child] < v[child + 1] {
                child + 1
            } else {
                child
            };
        }
        while at > root && v[root] > v[at] {
            at = (at - 1) / 2;
        }
        while at > root {
            v.swap(root, at);
            at = (at - 1) / 2;
        }
    }
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap::new()
    }
}

/// Formatted as a map, as `BTreeMap`'s is.
impl<V: fmt::Debug> fmt::Debug for SortedMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A set of strings, iterated in order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SortedSet(SortedMap<()>);

impl SortedSet {
    pub const fn new() -> Self {
        SortedSet(SortedMap::new())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Adds `key`; true when it was not there yet.
    pub fn insert(&mut self, key: String) -> bool {
        self.0.insert(key, ()).is_none()
    }

    /// Takes `key` out; true when it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Formatted as a set, as `BTreeSet`'s is.
impl fmt::Debug for SortedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Duplicates are kept once. Sorted input (as the index is written) only appends; input in
/// another order costs a move of the tail per member (fine for core's own records; a server's
/// entries go through [`SortedMap::extend`]).
impl FromIterator<String> for SortedSet {
    fn from_iter<I: IntoIterator<Item = String>>(items: I) -> Self {
        let mut set = SortedSet::new();
        for item in items {
            set.insert(item);
        }
        set
    }
}

/// The members in order.
impl IntoIterator for SortedSet {
    type Item = String;
    type IntoIter = std::iter::Map<std::vec::IntoIter<(String, ())>, fn((String, ())) -> String>;

    fn into_iter(self) -> Self::IntoIter {
        (self.0).0.into_iter().map(|(k, ())| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, u32)]) -> SortedMap<u32> {
        let mut m = SortedMap::new();
        for (k, v) in pairs {
            m.insert(k.to_string(), *v);
        }
        m
    }

    fn keys<V>(m: &SortedMap<V>) -> Vec<&str> {
        m.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn iterates_in_the_byte_order_of_keys_whatever_the_order_of_inserts() {
        let inserts = [
            ("m", 1),
            ("b", 2),
            ("z", 3),
            ("B", 4),
            ("", 5),
            ("ba", 6),
            ("\u{e9}", 7),
            ("a", 8),
        ];
        let m = map(&inserts);
        let mut want: Vec<&str> = inserts.iter().map(|(k, _)| *k).collect();
        want.sort_unstable();
        assert_eq!(keys(&m), want);
        assert_eq!(keys(&m), ["", "B", "a", "b", "ba", "m", "z", "\u{e9}"]);
        // the same order as the B-tree it replaces
        let btree: std::collections::BTreeMap<String, u32> =
            inserts.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let pairs: Vec<(&String, &u32)> = m.iter().collect();
        assert_eq!(pairs, btree.iter().collect::<Vec<_>>());
        assert_eq!(m.len(), 8);
        assert_eq!(format!("{m:?}"), format!("{btree:?}"));
    }

    #[test]
    fn insert_replaces_and_or_insert_keeps_the_first_value() {
        let mut m = map(&[("k", 1), ("j", 2)]);
        assert_eq!(m.insert("k".into(), 10), Some(1));
        assert_eq!(m.get("k"), Some(&10));
        assert_eq!(m.insert("l".into(), 3), None);
        assert_eq!(m.len(), 3);

        assert_eq!(*m.or_insert("k".into(), 99), 10, "the first value stays");
        assert_eq!(m.get("k"), Some(&10));
        *m.or_insert("a".into(), 4) += 1;
        assert_eq!(m.get("a"), Some(&5), "an absent key takes the value");
        assert_eq!(keys(&m), ["a", "j", "k", "l"]);
    }

    #[test]
    fn remove_and_lookups_of_absent_keys() {
        let mut m = map(&[("b", 1), ("d", 2), ("f", 3)]);
        for absent in ["", "a", "c", "e", "g", "B", "bb"] {
            assert_eq!(m.get(absent), None, "{absent}");
            assert!(!m.contains_key(absent), "{absent}");
            assert_eq!(m.remove(absent), None, "{absent}");
        }
        assert_eq!(m.len(), 3);
        assert_eq!(m.remove("d"), Some(2));
        assert_eq!(m.remove("d"), None, "removed once");
        assert!(!m.contains_key("d"));
        assert_eq!(keys(&m), ["b", "f"]);
        assert_eq!(m.remove("b"), Some(1));
        assert_eq!(m.remove("f"), Some(3));
        assert!(m.is_empty());
        assert_eq!(m.get("b"), None);
    }

    #[test]
    fn a_set_keeps_each_member_once_in_order() {
        let mut s: SortedSet = ["c", "a", "b", "a", "c"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!s.insert("b".into()), "already there");
        assert!(s.insert("0".into()));
        assert!(s.contains("0") && s.contains("c") && !s.contains("d"));
        assert!(s.remove("a"));
        assert!(!s.remove("a"), "removed once");
        assert_eq!(format!("{s:?}"), r#"{"0", "b", "c"}"#);
        assert_eq!(s.into_iter().collect::<Vec<_>>(), ["0", "b", "c"]);
    }

    #[test]
    fn sort_strings_sorts_as_std_does() {
        let mut next = crate::test_host::numbers(0x0123_4567_89ab_cdef_u64);
        let words = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "é",
            "e\u{301}",
            "Z",
            "zz",
            "\u{10ffff}",
        ];
        for len in (0..64).chain([200, 1_000]) {
            let mut v: Vec<String> = (0..len)
                .map(|_| {
                    let n = next() as usize % 3;
                    (0..n)
                        .map(|_| words[next() as usize % words.len()])
                        .collect()
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_strings(&mut v);
            assert_eq!(v, want, "{len}");
        }
        // already sorted and reversed input
        let mut v: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
        let want = v.clone();
        sort_strings(&mut v);
        assert_eq!(v, want);
        v.reverse();
        sort_strings(&mut v);
        assert_eq!(v, want);
    }

    #[test]
    fn extend_sorts_once_and_the_last_value_of_a_key_wins() {
        let mut m = map(&[("k", 1), ("c", 2)]);
        m.extend(vec![
            ("z".into(), 3),
            ("k".into(), 4),
            ("a".into(), 5),
            ("z".into(), 6),
            ("c".into(), 7),
            ("c".into(), 8),
        ]);
        let pairs: Vec<(&str, u32)> = m.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(pairs, [("a", 5), ("c", 8), ("k", 4), ("z", 6)]);
        // the same as inserting one by one
        let mut one_by_one = map(&[("k", 1), ("c", 2)]);
        for (k, v) in [("z", 3), ("k", 4), ("a", 5), ("z", 6), ("c", 7), ("c", 8)] {
            one_by_one.insert(k.into(), v);
        }
        assert!(m == one_by_one);
        m.extend(Vec::new());
        assert_eq!(m.len(), 4);
        // many, in reverse order
        let mut big = SortedMap::new();
        big.extend(
            (0..50_000u32)
                .rev()
                .map(|i| (format!("{i:05}"), i))
                .collect(),
        );
        assert_eq!(big.len(), 50_000);
        assert!(big
            .iter()
            .zip(0..)
            .all(|((k, v), i)| *v == i && *k == format!("{i:05}")));
    }

    #[test]
    fn many_keys_stay_sorted_and_findable() {
        // descending inserts: every one goes to the front
        let mut m = SortedMap::new();
        for i in (0..500u32).rev() {
            assert_eq!(m.insert(format!("{i:04}"), i), None);
        }
        assert!(m
            .iter()
            .zip(0..)
            .all(|((k, v), i)| *v == i && *k == format!("{i:04}")));
        for i in 0..500u32 {
            assert_eq!(m.get(&format!("{i:04}")), Some(&i));
        }
        assert_eq!(m.get("0500"), None);
    }
}
