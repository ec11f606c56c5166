//! Mercure topic selectors: `*`, an exact topic, or a URI template, and
//! the bounded cache of compiled templates every request shares.
//!
//! A string matches a selector (the draft's rule) when the selector is
//! `*`, when both are the same string (so a template matches itself, for
//! authorization), or when the selector is a URI template some expansion
//! of which is the string.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sse_actors::{TopicPattern, TopicSelector};

use crate::mercure::template::UriTemplate;

/// A URI template selector, as the event server's topic index sees it.
#[derive(Debug)]
struct TemplateSelector(UriTemplate);

impl TopicPattern for TemplateSelector {
    fn source(&self) -> &str {
        self.0.source()
    }

    fn matches(&self, topic: &str) -> bool {
        topic == self.0.source() || self.0.matches(topic)
    }
}

/// Compiled templates by source, shared by every request so a selector
/// many subscribers use is compiled once. Bounded: past `capacity`
/// entries the older half goes (the entries used since stay).
#[derive(Debug)]
pub(crate) struct Selectors {
    capacity: usize,
    cache: Mutex<Generations>,
}

/// Two generations: lookups promote from `old` to `new`; when `new` is
/// full it becomes `old` and the previous `old` is dropped.
#[derive(Debug, Default)]
struct Generations {
    new: HashMap<Box<str>, Compiled>,
    old: HashMap<Box<str>, Compiled>,
}

/// A selector's compiled form; `None` for a string with braces that is
/// not a template (remembered too, so it is not parsed again).
type Compiled = Option<Arc<dyn TopicPattern>>;

impl Selectors {
    /// A cache of at most `capacity` compiled selectors.
    pub(crate) fn new(capacity: usize) -> Self {
        Selectors {
            capacity: capacity.max(2),
            cache: Mutex::new(Generations::default()),
        }
    }

    /// The selector `text` is: `*`, a template, else an exact topic.
    pub(crate) fn parse(&self, text: &str) -> TopicSelector {
        if text == "*" {
            return TopicSelector::Any;
        }
        if !text.contains('{') {
            return TopicSelector::exact(text);
        }
        match self.compiled(text) {
            Some(pattern) => TopicSelector::Pattern(pattern),
            None => TopicSelector::exact(text),
        }
    }

    /// Whether `topic` matches the selector `text`.
    pub(crate) fn matches(&self, text: &str, topic: &str) -> bool {
        match self.parse(text) {
            TopicSelector::Any => true,
            TopicSelector::Exact(exact) => *exact == *topic,
            TopicSelector::Pattern(pattern) => pattern.matches(topic),
            _ => false,
        }
    }

    fn compiled(&self, text: &str) -> Compiled {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(hit) = cache.new.get(text) {
            return hit.clone();
        }
        let compiled = match cache.old.remove(text) {
            Some(hit) => hit,
            None => UriTemplate::parse(text)
                .ok()
                .map(|template| Arc::new(TemplateSelector(template)) as Arc<dyn TopicPattern>),
        };
        if cache.new.len() >= self.capacity / 2 {
            cache.old = std::mem::take(&mut cache.new);
        }
        cache.new.insert(text.into(), compiled.clone());
        compiled
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        let cache = self.cache.lock().unwrap();
        cache.new.len() + cache.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_everything_exact_strings_or_templates() {
        let selectors = Selectors::new(8);
        assert!(selectors.matches("*", "anything at all"));
        assert!(selectors.matches("https://example.com/books/1", "https://example.com/books/1"));
        assert!(!selectors.matches(
            "https://example.com/books/1",
            "https://example.com/books/12"
        ));
        assert!(selectors.matches("a raw string", "a raw string"));
        assert!(!selectors.matches("a raw string", "a raw strin"));
        let template = "https://example.com/books/{id}";
        assert!(selectors.matches(template, "https://example.com/books/42"));
        assert!(
            selectors.matches(template, template),
            "a template matches itself"
        );
        assert!(!selectors.matches(template, "https://example.com/authors/42"));
        // Braces that are no template: an exact string.
        assert!(selectors.matches("/a/{b", "/a/{b"));
        assert!(!selectors.matches("/a/{b", "/a/{bc"));
        assert!(
            !selectors.matches("**", "anything"),
            "only `*` alone is everything"
        );
    }

    #[test]
    fn the_template_cache_stays_within_its_capacity_and_keeps_what_is_used() {
        let selectors = Selectors::new(4);
        let hot = "/hot/{id}";
        for n in 0..100 {
            assert!(selectors.matches(hot, "/hot/1"));
            assert!(selectors.matches(&format!("/cold/{n}/{{id}}"), &format!("/cold/{n}/x")));
            assert!(selectors.cached() <= 4);
        }
        let TopicSelector::Pattern(first) = selectors.parse(hot) else {
            panic!("a template");
        };
        let TopicSelector::Pattern(again) = selectors.parse(hot) else {
            panic!("a template");
        };
        assert!(Arc::ptr_eq(&first, &again), "compiled once while in use");
    }
}
