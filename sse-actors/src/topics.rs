//! Topics: what an event is about, and which events a subscriber accepts.
//!
//! One stream can carry many feeds: each event names the topics it is
//! about ([`Topics`], given to [`Server::publish_tagged`](crate::Server::publish_tagged)),
//! possibly as private, and each subscriber says which topics it wants and
//! which private ones it may see ([`TopicFilter`], given to
//! [`SubscribeRequest::topics`](crate::SubscribeRequest::topics)). A
//! subscriber then gets only its matches, live and on replay, each event at
//! most once however many of its topics match; replay and exclusive resume
//! work as on any stream (a Last-Event-ID may be any event's, of any topic).
//!
//! The rule, for an event about topics `T`:
//!
//! | subscriber | gets the event when |
//! |---|---|
//! | without a filter | it is not private (tagged or not) |
//! | with a filter | some topic of `T` matches some selector, and, if the event is private, some topic of `T` (the same or another) matches some private-access selector |
//!
//! An event without topics reaches only subscribers without a filter; a
//! private event never does.
//!
//! Matching is indexed: an event touches only the subscribers it is for.
//! Exact selectors are looked up, not compared one by one; each distinct
//! pattern is evaluated once per topic, and the results are cached per
//! stream (bounded by [`ServerBuilder::topic_cache`](crate::ServerBuilder::topic_cache)).
//! A stream whose subscribers have no filter and whose events have no
//! topics runs exactly as without this feature.
//!
//! Through a [`Backplane`](crate::Backplane) the topics and the private
//! flag travel with the event ([`BackplaneEvent::topics`](crate::BackplaneEvent::topics)):
//! every node applies the same rule to its own subscribers, live and when
//! replaying from the shared log, whichever node published.
//!
//! ```
//! use futures_util::StreamExt as _;
//! use sse_actors::{Server, SubscribeRequest, TopicFilter, TopicSelector, Topics};
//! use sse_proto::Event;
//!
//! actix_rt::System::new().block_on(async {
//!     // One stream carries every user's feed.
//!     let server = Server::builder().arbiters(1).build();
//!     server.create_stream("feeds").await?;
//!     let alice = TopicFilter::new([TopicSelector::exact("users/alice")])
//!         .private_access([TopicSelector::exact("users/alice")]);
//!     let mut alice = server
//!         .subscribe("feeds", SubscribeRequest::new().topics(alice))
//!         .await?;
//!     // Bob asks for Alice's feed too, but may not see her private events.
//!     let bob = TopicFilter::new([TopicSelector::exact("users/alice")]);
//!     let mut bob = server
//!         .subscribe("feeds", SubscribeRequest::new().topics(bob))
//!         .await?;
//!
//!     let private = Topics::new(["users/alice"]).private(true);
//!     server.publish_tagged("feeds", Event::data("for alice"), private).await?;
//!     let public = Topics::new(["users/alice"]);
//!     server.publish_tagged("feeds", Event::data("for anyone"), public).await?;
//!
//!     assert!(alice.next().await.unwrap().ends_with(b"data: for alice\n\n"));
//!     assert!(alice.next().await.unwrap().ends_with(b"data: for anyone\n\n"));
//!     assert!(bob.next().await.unwrap().ends_with(b"data: for anyone\n\n"), "not the private one");
//!     server.close().await;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

/// What an event is about: its topics (any strings) and whether it is
/// private (delivered only to subscribers whose filter grants access to
/// one of them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Topics {
    topics: Box<[Box<str>]>,
    private: bool,
}

impl Topics {
    /// Public topics.
    pub fn new<T: Into<Box<str>>>(topics: impl IntoIterator<Item = T>) -> Self {
        Topics {
            topics: topics.into_iter().map(Into::into).collect(),
            private: false,
        }
    }

    /// Makes the event private (or public again).
    #[must_use]
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Whether the event is private.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The topics, in the order given.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        self.topics.iter().map(|topic| &**topic)
    }

    /// Whether some topic matches some of `selectors`.
    fn any_matches(&self, selectors: &[TopicSelector]) -> bool {
        self.iter()
            .any(|topic| selectors.iter().any(|selector| selector.matches(topic)))
    }
}

/// A pattern a selector may hold besides exact topics: a URI template,
/// say. Patterns with the same [`source`](TopicPattern::source) are taken
/// to be the same pattern: a stream evaluates each distinct one once per
/// topic and caches the answer.
pub trait TopicPattern: fmt::Debug + Send + Sync + 'static {
    /// The pattern as written: its identity.
    fn source(&self) -> &str;

    /// Whether `topic` matches. Called once per distinct pattern and topic
    /// while the answer is cached; it should be fast and must not block.
    fn matches(&self, topic: &str) -> bool;
}

/// One selector of a [`TopicFilter`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TopicSelector {
    /// Every topic.
    Any,
    /// This topic exactly (byte for byte).
    Exact(Arc<str>),
    /// Every topic the pattern matches.
    Pattern(Arc<dyn TopicPattern>),
}

impl TopicSelector {
    /// The exact topic `topic`.
    pub fn exact(topic: impl Into<Arc<str>>) -> Self {
        TopicSelector::Exact(topic.into())
    }

    /// Whether `topic` matches (uncached: the stream's index caches for you).
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            TopicSelector::Any => true,
            TopicSelector::Exact(exact) => **exact == *topic,
            TopicSelector::Pattern(pattern) => pattern.matches(topic),
        }
    }
}

impl PartialEq for TopicSelector {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TopicSelector::Any, TopicSelector::Any) => true,
            (TopicSelector::Exact(a), TopicSelector::Exact(b)) => a == b,
            (TopicSelector::Pattern(a), TopicSelector::Pattern(b)) => a.source() == b.source(),
            _ => false,
        }
    }
}

impl Eq for TopicSelector {}

/// Which events a subscriber accepts: those about a topic some selector
/// matches; private ones only when one of their topics also matches a
/// private-access selector. See the [rule](crate::topics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicFilter {
    pub(crate) selectors: Vec<TopicSelector>,
    pub(crate) private_access: Vec<TopicSelector>,
}

impl TopicFilter {
    /// Accepts public events about a topic one of `selectors` matches.
    pub fn new(selectors: impl IntoIterator<Item = TopicSelector>) -> Self {
        TopicFilter {
            selectors: selectors.into_iter().collect(),
            private_access: Vec::new(),
        }
    }

    /// Also accepts the private ones among them, when one of their topics
    /// matches one of `selectors` (say, what a token grants).
    #[must_use]
    pub fn private_access(mut self, selectors: impl IntoIterator<Item = TopicSelector>) -> Self {
        self.private_access = selectors.into_iter().collect();
        self
    }

    /// The selectors of the topics it accepts.
    pub fn selectors(&self) -> &[TopicSelector] {
        &self.selectors
    }

    /// The selectors granting access to private events.
    pub fn private_selectors(&self) -> &[TopicSelector] {
        &self.private_access
    }

    /// Whether it accepts an event about `topics` (uncached).
    pub fn accepts(&self, topics: &Topics) -> bool {
        topics.any_matches(&self.selectors)
            && (!topics.private || topics.any_matches(&self.private_access))
    }
}

/// Whether a subscriber with `filter` (or none) gets an event with
/// `topics` (or none): the crate's one rule, for replay.
pub(crate) fn admits(filter: Option<&TopicFilter>, topics: Option<&Topics>) -> bool {
    match (filter, topics) {
        (None, None) => true,
        (None, Some(topics)) => !topics.private,
        (Some(_), None) => false,
        (Some(filter), Some(topics)) => filter.accepts(topics),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Prefix(&'static str);

    impl TopicPattern for Prefix {
        fn source(&self) -> &str {
            self.0
        }

        fn matches(&self, topic: &str) -> bool {
            topic.starts_with(self.0)
        }
    }

    #[test]
    fn the_rule_covers_every_combination() {
        let public = Topics::new(["a", "b"]);
        let private = Topics::new(["a", "b"]).private(true);
        let wants_b = TopicFilter::new([TopicSelector::exact("b")]);
        let wants_b_may_a = wants_b
            .clone()
            .private_access([TopicSelector::Pattern(Arc::new(Prefix("a")))]);
        assert!(admits(None, None));
        assert!(admits(None, Some(&public)));
        assert!(!admits(None, Some(&private)), "private needs a filter");
        assert!(!admits(Some(&wants_b), None), "untagged needs no filter");
        assert!(admits(Some(&wants_b), Some(&public)));
        assert!(!admits(Some(&wants_b), Some(&private)));
        assert!(
            admits(Some(&wants_b_may_a), Some(&private)),
            "selected by one topic, allowed by another"
        );
        let other = Topics::new(["c"]).private(true);
        assert!(!admits(Some(&wants_b_may_a), Some(&other)));
        let everything = TopicFilter::new([TopicSelector::Any]);
        assert!(everything.accepts(&Topics::new(["x"])));
        assert!(
            !everything.accepts(&Topics::new(Vec::<String>::new())),
            "no topic, no match"
        );
    }
}
