//! The active subscriptions of a whole cluster, in the cluster's Redis
//! ([`Hub::share_subscriptions`](crate::Hub::share_subscriptions)), so any
//! node's listing shows every node's open subscriptions.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `sse-mercure-subscriptions:NODE` | hash, expiring | subscriber id → `{"selectors": [..], "payload": ..}`, one field per open subscription of node `NODE` (a `urn:uuid:` per process) |
//! | `sse-mercure-nodes` | sorted set | each node's hash key, scored by when it expires (Unix ms) |
//!
//! A node writes a subscription when it opens and deletes it when it ends;
//! every [`HEARTBEAT`] it extends its hash's life to [`TTL`], and rewrites
//! the hash whole if Redis lost it (a restart) or a write failed. A node
//! that dies without cleaning up is unlisted [`TTL`] later, when its hash
//! expires (on Redis's clock), and leaves the set a [`TTL`] after that. So
//! Redis holds at most each live node's own table (bounded as that is)
//! plus, for [`TTL`], a dead one's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::presence::Entry;
use crate::HubError;

/// How long a node's subscriptions stay listed without its heartbeat.
pub(crate) const TTL: Duration = Duration::from_secs(30);

/// How often a node extends its subscriptions' life.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(10);

/// The sorted set of the nodes' hash keys.
const NODES: &str = "sse-mercure-nodes";

/// The prefix of each node's hash key.
const NODE_PREFIX: &str = "sse-mercure-subscriptions:";

/// How long a Redis command may take before the listing answers 503.
const TIMEOUT: Duration = Duration::from_secs(2);

/// This node's view of the shared table.
pub(crate) struct SharedPresence {
    commands: ConnectionManager,
    /// This node's hash key.
    key: String,
    /// Held shared by each write of one subscription, exclusively while
    /// the hash is rewritten whole, so no write falls between the rewrite's
    /// snapshot of the table and its completion.
    writes: tokio::sync::RwLock<()>,
    /// A write failed: the next heartbeat rewrites the hash whole.
    stale: AtomicBool,
}

impl std::fmt::Debug for SharedPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPresence")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn ttl_ms() -> i64 {
    TTL.as_millis() as i64
}

impl SharedPresence {
    /// Connects lazily to the Redis at `url`.
    pub(crate) fn new(url: &str) -> Result<Self, sse_redis::ConnectError> {
        let invalid = |error: redis::RedisError| sse_redis::ConnectError::InvalidUrl {
            url: url.to_owned(),
            reason: error.to_string(),
        };
        let client = redis::Client::open(url).map_err(invalid)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let commands = ConnectionManager::new_lazy_with_config(client, config).map_err(invalid)?;
        Ok(SharedPresence {
            commands,
            key: format!("{NODE_PREFIX}urn:uuid:{}", uuid::Uuid::new_v4()),
            writes: tokio::sync::RwLock::new(()),
            stale: AtomicBool::new(false),
        })
    }

    /// Lists `subscriber`'s subscription as this node's.
    pub(crate) async fn insert(&self, subscriber: &str, entry: &Entry) {
        let _writing = self.writes.read().await;
        let mut pipe = redis::pipe();
        pipe.atomic().hset(&self.key, subscriber, encode(entry));
        self.keep_alive(&mut pipe, now_ms());
        self.run(pipe, subscriber).await;
    }

    /// Forgets `subscriber`'s subscription.
    pub(crate) async fn remove(&self, subscriber: &str) {
        let _writing = self.writes.read().await;
        let mut pipe = redis::pipe();
        pipe.hdel(&self.key, subscriber);
        self.run(pipe, subscriber).await;
    }

    async fn run(&self, pipe: redis::Pipeline, subscriber: &str) {
        let result: redis::RedisResult<()> = pipe.query_async(&mut self.commands.clone()).await;
        if let Err(error) = result {
            self.stale.store(true, Ordering::Relaxed);
            tracing::warn!(%subscriber, "Mercure subscription not written to Redis: {error}");
        }
    }

    /// Extends this node's hash and score to [`TTL`] from `now`, and drops
    /// the nodes whose time has been up for a [`TTL`] (a margin for clocks
    /// that disagree: whether a node is listed is up to its hash's expiry,
    /// on Redis's clock; a node dropped too early adds itself back at its
    /// next heartbeat).
    fn keep_alive(&self, pipe: &mut redis::Pipeline, now: i64) {
        pipe.pexpire(&self.key, ttl_ms())
            .ignore()
            .zadd(NODES, &self.key, now + ttl_ms())
            .ignore()
            .zrembyscore(NODES, "-inf", now - ttl_ms())
            .ignore();
    }

    /// One heartbeat: extends this node's life, rewriting its hash from
    /// `table` if Redis lost it or a write failed.
    async fn beat(&self, table: &Mutex<BTreeMap<String, Entry>>) {
        let _rewriting = self.writes.write().await;
        let mut commands = self.commands.clone();
        let now = now_ms();
        if !self.stale.load(Ordering::Relaxed) {
            let mut pipe = redis::pipe();
            pipe.atomic().exists(&self.key);
            self.keep_alive(&mut pipe, now);
            match pipe.query_async::<(bool,)>(&mut commands).await {
                Ok((true,)) => return,
                Ok((false,)) => {}
                Err(error) => {
                    tracing::warn!("Mercure subscriptions not kept alive in Redis: {error}");
                    self.stale.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        let snapshot: Vec<(String, String)> = super::presence::lock(table)
            .iter()
            .map(|(subscriber, entry)| (subscriber.clone(), encode(entry)))
            .collect();
        let mut pipe = redis::pipe();
        pipe.atomic().del(&self.key).ignore();
        if !snapshot.is_empty() {
            pipe.hset_multiple(&self.key, &snapshot).ignore();
        }
        self.keep_alive(&mut pipe, now);
        match pipe.query_async::<()>(&mut commands).await {
            Ok(()) => self.stale.store(false, Ordering::Relaxed),
            Err(error) => {
                self.stale.store(true, Ordering::Relaxed);
                tracing::warn!("Mercure subscriptions not rewritten to Redis: {error}");
            }
        }
    }

    /// The open subscriptions of every live node (only `subscriber`'s if
    /// given), by subscriber id. A node gone is found with an expired,
    /// hence empty, hash.
    pub(crate) async fn read(
        &self,
        subscriber: Option<&str>,
    ) -> Result<BTreeMap<String, Entry>, HubError> {
        let unavailable = |error: redis::RedisError| HubError::Subscriptions(error.to_string());
        let mut commands = self.commands.clone();
        let nodes: Vec<String> = redis::cmd("ZRANGE")
            .arg(NODES)
            .arg(0)
            .arg(-1)
            .query_async(&mut commands)
            .await
            .map_err(unavailable)?;
        let mut pipe = redis::pipe();
        for node in &nodes {
            match subscriber {
                Some(subscriber) => pipe.hget(node, subscriber),
                None => pipe.hgetall(node),
            };
        }
        let mut open = BTreeMap::new();
        match subscriber {
            Some(subscriber) => {
                let found: Vec<Option<String>> =
                    pipe.query_async(&mut commands).await.map_err(unavailable)?;
                if let Some(entry) = found.iter().flatten().find_map(|text| decode(text)) {
                    open.insert(subscriber.to_owned(), entry);
                }
            }
            None => {
                let found: Vec<Vec<(String, String)>> =
                    pipe.query_async(&mut commands).await.map_err(unavailable)?;
                for (subscriber, text) in found.into_iter().flatten() {
                    if let Some(entry) = decode(&text) {
                        open.insert(subscriber, entry);
                    }
                }
            }
        }
        Ok(open)
    }
}

fn encode(entry: &Entry) -> String {
    serde_json::to_string(entry).unwrap_or_default()
}

/// An entry as a node wrote it; `None` (skipped) for anything else found
/// under the key.
fn decode(text: &str) -> Option<Entry> {
    serde_json::from_str(text).ok()
}

/// Beats every [`HEARTBEAT`] for as long as `presence` lives.
pub(crate) fn heartbeat(presence: Weak<super::Mercure>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(HEARTBEAT);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(mercure) = presence.upgrade() else {
                return;
            };
            if let Some(presence) = mercure.presence.as_ref()
                && let Some(shared) = presence.shared()
            {
                shared.beat(presence.open()).await;
            }
            drop::<Arc<_>>(mercure);
        }
    });
}
