//! A stream's subscriber records, kept apart by whether they filter by
//! topic, so the fan-out to subscribers without a filter walks only them
//! (exactly as a stream without topics does) and the filtered ones are
//! reached through their [`TopicIndex`].
//!
//! Every way a record leaves goes through here, so the index never names
//! a subscriber that is gone.

use std::collections::HashMap;

use crate::topic_index::TopicIndex;
use crate::topics::{TopicFilter, Topics};

/// Which records an operation covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    All,
    /// Only the records without a topic filter.
    Unfiltered,
}

#[derive(Debug)]
pub(crate) struct Records<R> {
    unfiltered: HashMap<u64, R>,
    filtered: HashMap<u64, R>,
    index: TopicIndex,
}

impl<R> Records<R> {
    /// No records; the index caches pattern answers for `cache_topics` topics.
    pub(crate) fn new(cache_topics: usize) -> Self {
        Records {
            unfiltered: HashMap::new(),
            filtered: HashMap::new(),
            index: TopicIndex::new(cache_topics),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.unfiltered.len() + self.filtered.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.unfiltered.is_empty() && self.filtered.is_empty()
    }

    pub(crate) fn has_filtered(&self) -> bool {
        !self.filtered.is_empty()
    }

    pub(crate) fn insert(&mut self, id: u64, record: R, filter: Option<&TopicFilter>) {
        match filter {
            None => {
                self.unfiltered.insert(id, record);
            }
            Some(filter) => {
                self.index.join(id, filter);
                self.filtered.insert(id, record);
            }
        }
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<R> {
        self.unfiltered.remove(&id).or_else(|| {
            let record = self.filtered.remove(&id)?;
            self.index.leave(id);
            Some(record)
        })
    }

    pub(crate) fn filtered_mut(&mut self, id: u64) -> Option<&mut R> {
        self.filtered.get_mut(&id)
    }

    /// Appends the filtered records an event about `topics` is for.
    pub(crate) fn recipients(&mut self, topics: &Topics, out: &mut Vec<u64>) {
        self.index.recipients(topics, out);
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &R> {
        self.unfiltered.values().chain(self.filtered.values())
    }

    /// Takes out every record of `scope` that `leaves` picks, handing each
    /// to `gone`.
    pub(crate) fn take_if(
        &mut self,
        scope: Scope,
        mut leaves: impl FnMut(&mut R) -> bool,
        mut gone: impl FnMut(R),
    ) {
        for (_, record) in self.unfiltered.extract_if(|_, record| leaves(record)) {
            gone(record);
        }
        if scope == Scope::All && !self.filtered.is_empty() {
            for (id, record) in self.filtered.extract_if(|_, record| leaves(record)) {
                self.index.leave(id);
                gone(record);
            }
        }
    }

    /// Takes out every record.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = R> + '_ {
        self.index.clear();
        self.unfiltered
            .drain()
            .chain(self.filtered.drain())
            .map(|(_, record)| record)
    }
}
