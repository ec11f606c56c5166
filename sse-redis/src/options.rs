//! Every setting of the Redis backplane, with its default.

use std::time::Duration;

/// Settings of a [`RedisBackplane`](crate::RedisBackplane). Every bound on
/// Redis memory and every wait is here.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prefix of the Redis key of each SSE stream (`sse:` + name by default),
    /// so several clusters can share one Redis.
    pub key_prefix: String,
    /// Prefix of the Redis key of each stream's own ids (`sse-id:` + name by
    /// default): a hash from each held event's own id to its entry id.
    /// Neither prefix may start with the other, so no stream's key is
    /// another's id map.
    pub ids_key_prefix: String,
    /// Entries kept per stream, exactly: each publish trims the oldest
    /// beyond it, and their own ids with them. This bounds Redis memory and
    /// how far back any node can replay. At least 1 (0 counts as 1).
    /// Default 10 000.
    pub max_len: usize,
    /// Entries older than this (by Redis' clock) are trimmed, with their own
    /// ids, on each publish. Default: no age limit.
    pub max_age: Option<Duration>,
    /// How long one `XREAD` waits for new entries. Events are delivered as
    /// soon as they arrive whatever this is; it bounds how long a newly
    /// watched stream waits before it is read with the others. Default 200 ms.
    pub block: Duration,
    /// Most entries read per stream by one `XREAD`; also the batch a node
    /// hands its stream actors at once. Default 1000.
    pub read_count: usize,
    /// Connect and response timeout of publishing and replay reads, so a
    /// publish while Redis is down fails promptly. Default 2 s.
    pub timeout: Duration,
    /// First wait before reconnecting the reader after Redis went away;
    /// doubles on each failure up to [`retry_max`](Self::retry_max).
    /// Default 50 ms.
    pub retry_min: Duration,
    /// Longest wait between reconnection attempts. Default 2 s.
    pub retry_max: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            key_prefix: "sse:".to_owned(),
            ids_key_prefix: "sse-id:".to_owned(),
            max_len: 10_000,
            max_age: None,
            block: Duration::from_millis(200),
            read_count: 1000,
            timeout: Duration::from_secs(2),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(2),
        }
    }
}
