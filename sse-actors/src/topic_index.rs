//! Who gets an event about some topics: the index of one stream's
//! filtered subscribers (see [`crate::topics`]).
//!
//! Each side of a filter (the topics a subscriber selects, the private
//! ones it may see) is indexed the same way: exact selectors by topic,
//! `Any` in one set, patterns by pattern. The subscribers an event reaches
//! are found from its topics alone, never by visiting the others: the
//! members of each exact topic, of `Any` and of each pattern matching a
//! topic. Distinct patterns are shared and evaluated once per topic; which
//! patterns match a topic is cached (bounded), and a pattern added later is
//! evaluated for a cached topic the next time that topic is seen.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::topics::{TopicFilter, TopicPattern, TopicSelector, Topics};

/// A distinct pattern's number in its stream, never reused.
type PatternId = u64;

/// The filtered subscribers of one stream, indexed by what they accept.
#[derive(Debug)]
pub(crate) struct TopicIndex {
    members: HashMap<u64, Member>,
    selected: Side,
    allowed: Side,
    patterns: Patterns,
    /// Marks the members an event already reached (each at most once).
    stamp: u64,
    /// Pattern ids matching the current event's topics (reused buffer).
    matched: Vec<PatternId>,
}

/// One subscriber's filter, with its patterns replaced by their ids.
#[derive(Debug)]
struct Member {
    selected: Vec<Resolved>,
    allowed: Vec<Resolved>,
    stamp: u64,
}

#[derive(Debug)]
enum Resolved {
    Any,
    Exact(Arc<str>),
    Pattern(PatternId),
}

impl Resolved {
    fn admits(&self, topics: &Topics, matched: &[PatternId]) -> bool {
        match self {
            Resolved::Any => true,
            Resolved::Exact(exact) => topics.iter().any(|topic| topic == &**exact),
            Resolved::Pattern(id) => matched.binary_search(id).is_ok(),
        }
    }
}

/// One side of the filters: which members each selector holds.
#[derive(Debug, Default)]
struct Side {
    any: HashSet<u64>,
    exact: HashMap<Arc<str>, HashSet<u64>>,
    patterns: HashMap<PatternId, HashSet<u64>>,
}

impl Side {
    fn add(&mut self, member: u64, selector: &Resolved) {
        match selector {
            Resolved::Any => self.any.insert(member),
            Resolved::Exact(topic) => self
                .exact
                .entry(Arc::clone(topic))
                .or_default()
                .insert(member),
            Resolved::Pattern(id) => self.patterns.entry(*id).or_default().insert(member),
        };
    }

    fn remove(&mut self, member: u64, selector: &Resolved) {
        fn take<K: Eq + std::hash::Hash>(map: &mut HashMap<K, HashSet<u64>>, key: &K, member: u64) {
            if let Some(members) = map.get_mut(key) {
                members.remove(&member);
                if members.is_empty() {
                    map.remove(key);
                }
            }
        }
        match selector {
            Resolved::Any => {
                self.any.remove(&member);
            }
            Resolved::Exact(topic) => take(&mut self.exact, topic, member),
            Resolved::Pattern(id) => take(&mut self.patterns, id, member),
        }
    }

    /// The member sets an event about `topics` reaches on this side, and
    /// how many members they hold together.
    fn reached<'a>(
        &'a self,
        topics: &Topics,
        matched: &[PatternId],
    ) -> (Vec<&'a HashSet<u64>>, usize) {
        let mut sets = Vec::new();
        if !self.any.is_empty() {
            sets.push(&self.any);
        }
        sets.extend(topics.iter().filter_map(|topic| self.exact.get(topic)));
        sets.extend(matched.iter().filter_map(|id| self.patterns.get(id)));
        let total = sets.iter().map(|set| set.len()).sum();
        (sets, total)
    }
}

/// The distinct patterns of a stream's filters and the cache of which
/// match each topic.
#[derive(Debug)]
struct Patterns {
    by_id: BTreeMap<PatternId, Registered>,
    by_source: HashMap<Box<str>, PatternId>,
    next: PatternId,
    /// Counts removals, so cached answers naming removed patterns are
    /// pruned once, when next used.
    removals: u64,
    cache: TopicCache,
}

#[derive(Debug)]
struct Registered {
    pattern: Arc<dyn TopicPattern>,
    /// Selectors (of any member, either side) using it.
    uses: usize,
}

impl Patterns {
    fn register(&mut self, pattern: &Arc<dyn TopicPattern>) -> PatternId {
        if let Some(&id) = self.by_source.get(pattern.source()) {
            if let Some(registered) = self.by_id.get_mut(&id) {
                registered.uses += 1;
            }
            return id;
        }
        let id = self.next;
        self.next += 1;
        self.by_source.insert(pattern.source().into(), id);
        self.by_id.insert(
            id,
            Registered {
                pattern: Arc::clone(pattern),
                uses: 1,
            },
        );
        id
    }

    fn release(&mut self, id: PatternId) {
        let Some(registered) = self.by_id.get_mut(&id) else {
            return;
        };
        registered.uses -= 1;
        if registered.uses == 0
            && let Some(gone) = self.by_id.remove(&id)
        {
            self.by_source.remove(gone.pattern.source());
            self.removals += 1;
        }
    }

    /// Appends the ids of the live patterns matching `topic` to `out`.
    fn matching(&mut self, topic: &str, out: &mut Vec<PatternId>) {
        if self.by_id.is_empty() {
            return;
        }
        let entry = self.cache.entry(topic);
        if entry.removals != self.removals {
            entry.matched.retain(|id| self.by_id.contains_key(id));
            entry.removals = self.removals;
        }
        if entry.upto < self.next {
            for (id, registered) in self.by_id.range(entry.upto..) {
                if registered.pattern.matches(topic) {
                    entry.matched.push(*id);
                }
            }
            entry.upto = self.next;
        }
        out.extend_from_slice(&entry.matched);
    }
}

/// Which patterns match a topic: at most `capacity` topics, in two
/// generations (a lookup moves an entry to the newer one; when it is full
/// the older one is dropped), so the topics in use stay cached.
#[derive(Debug)]
struct TopicCache {
    capacity: usize,
    new: HashMap<Box<str>, Cached>,
    old: HashMap<Box<str>, Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    /// The patterns numbered below this were evaluated.
    upto: PatternId,
    matched: Vec<PatternId>,
    /// [`Patterns::removals`] when `matched` was last pruned.
    removals: u64,
}

impl TopicCache {
    fn entry(&mut self, topic: &str) -> &mut Cached {
        if !self.new.contains_key(topic) {
            let cached = self.old.remove(topic).unwrap_or_default();
            if self.new.len() >= self.capacity.div_ceil(2) {
                self.old = std::mem::take(&mut self.new);
            }
            self.new.insert(topic.into(), cached);
        }
        self.new.get_mut(topic).expect("just inserted")
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.new.len() + self.old.len()
    }
}

impl TopicIndex {
    /// An empty index caching pattern answers for `cache_topics` topics.
    pub(crate) fn new(cache_topics: usize) -> Self {
        TopicIndex {
            members: HashMap::new(),
            selected: Side::default(),
            allowed: Side::default(),
            patterns: Patterns {
                by_id: BTreeMap::new(),
                by_source: HashMap::new(),
                next: 0,
                removals: 0,
                cache: TopicCache {
                    capacity: cache_topics.max(1),
                    new: HashMap::new(),
                    old: HashMap::new(),
                },
            },
            stamp: 0,
            matched: Vec::new(),
        }
    }

    pub(crate) fn join(&mut self, member: u64, filter: &TopicFilter) {
        let mut resolve = |selector: &TopicSelector| match selector {
            TopicSelector::Any => Resolved::Any,
            TopicSelector::Exact(topic) => Resolved::Exact(Arc::clone(topic)),
            TopicSelector::Pattern(pattern) => Resolved::Pattern(self.patterns.register(pattern)),
        };
        let selected: Vec<_> = filter.selectors.iter().map(&mut resolve).collect();
        let allowed: Vec<_> = filter.private_access.iter().map(&mut resolve).collect();
        for selector in &selected {
            self.selected.add(member, selector);
        }
        for selector in &allowed {
            self.allowed.add(member, selector);
        }
        let joined = Member {
            selected,
            allowed,
            stamp: self.stamp,
        };
        if let Some(replaced) = self.members.insert(member, joined) {
            self.forget(member, replaced);
        }
    }

    pub(crate) fn leave(&mut self, member: u64) {
        if let Some(gone) = self.members.remove(&member) {
            self.forget(member, gone);
        }
    }

    fn forget(&mut self, member: u64, gone: Member) {
        for selector in &gone.selected {
            self.selected.remove(member, selector);
        }
        for selector in &gone.allowed {
            self.allowed.remove(member, selector);
        }
        for selector in gone.selected.iter().chain(&gone.allowed) {
            if let Resolved::Pattern(id) = selector {
                self.patterns.release(*id);
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        let cache_topics = self.patterns.cache.capacity;
        *self = TopicIndex::new(cache_topics);
    }

    /// Appends to `out` the members an event about `topics` is for, each
    /// once. Work is proportional to the topics, the distinct patterns not
    /// yet evaluated for them, and the members reached; for a private
    /// event, to the smaller of the members selecting it and those allowed
    /// to see it.
    pub(crate) fn recipients(&mut self, topics: &Topics, out: &mut Vec<u64>) {
        if topics.iter().len() == 0 {
            return;
        }
        self.stamp += 1;
        let stamp = self.stamp;
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        for topic in topics.iter() {
            self.patterns.matching(topic, &mut matched);
        }
        matched.sort_unstable();
        matched.dedup();
        let (selected, selected_total) = self.selected.reached(topics, &matched);
        let (walk, check_allowed) = if topics.is_private() {
            let (allowed, allowed_total) = self.allowed.reached(topics, &matched);
            if allowed_total < selected_total {
                (allowed, false)
            } else {
                (selected, true)
            }
        } else {
            (selected, false)
        };
        let private = topics.is_private();
        for set in walk {
            for id in set {
                let Some(member) = self.members.get_mut(id) else {
                    continue;
                };
                if member.stamp == stamp {
                    continue;
                }
                member.stamp = stamp;
                // The side walked admits it; check the other one.
                let admitted = if !private {
                    true
                } else if check_allowed {
                    member.allowed.iter().any(|s| s.admits(topics, &matched))
                } else {
                    member.selected.iter().any(|s| s.admits(topics, &matched))
                };
                if admitted {
                    out.push(*id);
                }
            }
        }
        self.matched = matched;
    }

    /// Cached topics (for tests).
    #[cfg(test)]
    fn cached_topics(&self) -> usize {
        self.patterns.cache.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.members.is_empty()
            && self.selected.any.is_empty()
            && self.selected.exact.is_empty()
            && self.selected.patterns.is_empty()
            && self.allowed.any.is_empty()
            && self.allowed.exact.is_empty()
            && self.allowed.patterns.is_empty()
            && self.patterns.by_id.is_empty()
            && self.patterns.by_source.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Matches topics starting with its source; counts its evaluations.
    #[derive(Debug)]
    struct Prefix(&'static str, Arc<AtomicUsize>);

    impl TopicPattern for Prefix {
        fn source(&self) -> &str {
            self.0
        }

        fn matches(&self, topic: &str) -> bool {
            self.1.fetch_add(1, Ordering::Relaxed);
            topic.starts_with(self.0)
        }
    }

    fn prefix(source: &'static str, calls: &Arc<AtomicUsize>) -> TopicSelector {
        TopicSelector::Pattern(Arc::new(Prefix(source, Arc::clone(calls))))
    }

    fn recipients(index: &mut TopicIndex, topics: &Topics) -> Vec<u64> {
        let mut out = Vec::new();
        index.recipients(topics, &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn an_event_reaches_each_matching_member_once() {
        let calls = Arc::default();
        let mut index = TopicIndex::new(16);
        index.join(1, &TopicFilter::new([TopicSelector::exact("a")]));
        index.join(
            2,
            &TopicFilter::new([TopicSelector::exact("a"), TopicSelector::exact("b")]),
        );
        index.join(3, &TopicFilter::new([TopicSelector::Any]));
        index.join(
            4,
            &TopicFilter::new([prefix("b", &calls), TopicSelector::exact("b")]),
        );
        index.join(5, &TopicFilter::new([TopicSelector::exact("z")]));
        assert_eq!(recipients(&mut index, &Topics::new(["a"])), [1, 2, 3]);
        assert_eq!(
            recipients(&mut index, &Topics::new(["a", "b"])),
            [1, 2, 3, 4]
        );
        assert_eq!(recipients(&mut index, &Topics::new(["bb"])), [3, 4]);
        assert_eq!(recipients(&mut index, &Topics::new(["c"])), [3]);
        let no_topic = Topics::new(Vec::<String>::new());
        assert!(recipients(&mut index, &no_topic).is_empty(), "not even Any");
    }

    #[test]
    fn a_private_event_reaches_members_selecting_it_and_allowed_to_see_it() {
        let calls = Arc::default();
        let mut index = TopicIndex::new(16);
        let books = || prefix("https://example.com/books/", &calls);
        // Selects every book, may see the ones also about user foo.
        index.join(
            1,
            &TopicFilter::new([books()]).private_access([TopicSelector::exact("users/foo")]),
        );
        // Selects every book, may see none privately.
        index.join(2, &TopicFilter::new([books()]));
        // May see everything, selects only book 2.
        index.join(
            3,
            &TopicFilter::new([TopicSelector::exact("https://example.com/books/2")])
                .private_access([TopicSelector::Any]),
        );
        let for_foo = Topics::new(["https://example.com/books/1", "users/foo"]).private(true);
        assert_eq!(recipients(&mut index, &for_foo), [1]);
        let book_2 = Topics::new(["https://example.com/books/2"]).private(true);
        assert_eq!(recipients(&mut index, &book_2), [3]);
        let public = Topics::new(["https://example.com/books/2"]);
        assert_eq!(recipients(&mut index, &public), [1, 2, 3]);
    }

    #[test]
    fn patterns_are_evaluated_once_per_topic_while_cached() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut index = TopicIndex::new(2);
        for member in 0..100 {
            index.join(member, &TopicFilter::new([prefix("a", &calls)]));
        }
        assert_eq!(recipients(&mut index, &Topics::new(["ab"])).len(), 100);
        assert_eq!(recipients(&mut index, &Topics::new(["ab"])).len(), 100);
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "one distinct pattern, one topic"
        );
        // A pattern joining later is evaluated for a cached topic once.
        index.join(100, &TopicFilter::new([prefix("ab", &calls)]));
        assert_eq!(recipients(&mut index, &Topics::new(["ab"])).len(), 101);
        assert_eq!(recipients(&mut index, &Topics::new(["ab"])).len(), 101);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        for topic in ["x1", "x2", "x3", "x4", "x5"] {
            recipients(&mut index, &Topics::new([topic]));
            assert!(index.cached_topics() <= 2, "bounded");
        }
    }

    #[test]
    fn leaving_frees_every_trace_of_a_member() {
        let calls = Arc::default();
        let mut index = TopicIndex::new(16);
        let filter = TopicFilter::new([
            TopicSelector::exact("a"),
            prefix("b", &calls),
            TopicSelector::Any,
        ])
        .private_access([prefix("b", &calls), TopicSelector::exact("c")]);
        index.join(1, &filter);
        index.join(2, &filter);
        recipients(&mut index, &Topics::new(["b"]));
        index.leave(1);
        assert_eq!(
            recipients(&mut index, &Topics::new(["b"]).private(true)),
            [2]
        );
        index.leave(2);
        index.leave(2);
        assert!(index.is_empty());
        // A pattern removed and registered again is a new one: no stale answer.
        index.join(3, &TopicFilter::new([prefix("b", &calls)]));
        assert_eq!(recipients(&mut index, &Topics::new(["b"])), [3]);
        assert_eq!(
            recipients(&mut index, &Topics::new(["a"])),
            Vec::<u64>::new()
        );
    }
}
