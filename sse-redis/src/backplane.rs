//! The [`Backplane`] over Redis Streams: publish, watch, replay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use bytestring::ByteString;
use futures_util::future::BoxFuture;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::StreamRangeReply;
use sse_actors::{Appended, Backplane, BackplaneError, GlobalId, Inbound, ReadAfter, Topics};
use tokio::sync::Notify;

use crate::entry;
use crate::error::{ConnectError, unavailable};
use crate::options::RedisOptions;
use crate::reader;

/// One node's connection to the cluster's Redis: publishes with a script
/// (`XADD` and the own-id map, trimmed together), reads every watched
/// stream with one blocking `XREAD` connection, replays with a script
/// resolving the Last-Event-ID. Cheap to clone.
#[derive(Clone)]
pub struct RedisBackplane {
    shared: Arc<BackplaneState>,
}

/// What the backplane handle and its reader task share.
pub(crate) struct BackplaneState {
    pub(crate) client: redis::Client,
    /// Publishing and replay reads; reconnects by itself.
    pub(crate) commands: ConnectionManager,
    pub(crate) options: RedisOptions,
    /// Watched streams and the newest id delivered (or the start) of each:
    /// where the reader resumes, also after Redis comes back.
    pub(crate) watched: Mutex<HashMap<String, GlobalId>>,
    /// Wakes an idle reader when the first stream is watched.
    pub(crate) wake: Notify,
    /// Redis commands and connections that failed.
    pub(crate) errors: AtomicU64,
    /// Reader connections made after the first one.
    pub(crate) reconnects: AtomicU64,
    /// `scripts/publish.lua`.
    publish: Script,
    /// `scripts/read_after.lua`.
    read_after: Script,
}

/// What a [`RedisBackplane`] counts, as running totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStats {
    /// Commands and connection attempts that failed (publishing, replay
    /// reads, the reader's reads and connects).
    pub errors: u64,
    /// Times the reader connected again after losing Redis.
    pub reconnects: u64,
}

impl BackplaneState {
    pub(crate) fn watched(&self) -> MutexGuard<'_, HashMap<String, GlobalId>> {
        self.watched
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Counts a failed command and passes its error on.
    pub(crate) fn failed(&self, error: redis::RedisError) -> BackplaneError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        unavailable(error)
    }

    pub(crate) fn key(&self, stream: &str) -> String {
        format!("{}{stream}", self.options.key_prefix)
    }

    fn ids_key(&self, stream: &str) -> String {
        format!("{}{stream}", self.options.ids_key_prefix)
    }
}

impl RedisBackplane {
    /// A backplane on the Redis at `url` (`redis://127.0.0.1:6379/0`). It
    /// connects lazily: a node starts while Redis is down, and serves once it
    /// is up. Call inside a Tokio runtime (an actix `System` is one).
    pub fn new(url: &str, options: RedisOptions) -> Result<Self, ConnectError> {
        let (streams, ids) = (&options.key_prefix, &options.ids_key_prefix);
        if streams.starts_with(ids.as_str()) || ids.starts_with(streams.as_str()) {
            return Err(ConnectError::OverlappingPrefixes {
                key_prefix: streams.clone(),
                ids_key_prefix: ids.clone(),
            });
        }
        let client = redis::Client::open(url).map_err(|error| ConnectError::InvalidUrl {
            url: url.to_owned(),
            reason: error.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1)
            .set_max_delay(options.retry_max);
        let commands =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|error| {
                ConnectError::InvalidUrl {
                    url: url.to_owned(),
                    reason: error.to_string(),
                }
            })?;
        Ok(RedisBackplane {
            shared: Arc::new(BackplaneState {
                client,
                commands,
                options,
                watched: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                errors: AtomicU64::new(0),
                reconnects: AtomicU64::new(0),
                publish: Script::new(include_str!("scripts/publish.lua")),
                read_after: Script::new(include_str!("scripts/read_after.lua")),
            }),
        })
    }

    /// The settings in use.
    pub fn options(&self) -> &RedisOptions {
        &self.shared.options
    }

    /// How many streams this node reads.
    pub fn watched_streams(&self) -> usize {
        self.shared.watched().len()
    }

    /// Errors and reconnections so far (for metrics).
    pub fn stats(&self) -> RedisStats {
        RedisStats {
            errors: self.shared.errors.load(Ordering::Relaxed),
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
        }
    }
}

impl Backplane for RedisBackplane {
    fn attach(&self, inbound: Inbound) {
        tokio::spawn(reader::run(Arc::clone(&self.shared), inbound));
    }

    fn publish(
        &self,
        stream: &str,
        frame: Bytes,
        own_id: Option<ByteString>,
        topics: Option<Arc<Topics>>,
    ) -> BoxFuture<'static, Result<Appended, BackplaneError>> {
        let shared = Arc::clone(&self.shared);
        let (key, ids_key) = (shared.key(stream), shared.ids_key(stream));
        let tagged: u8 = match &topics {
            None => 0,
            Some(topics) if topics.is_private() => 2,
            Some(_) => 1,
        };
        let topics = topics.map_or_else(Vec::new, |topics| entry::topics_field(&topics));
        Box::pin(async move {
            let options = &shared.options;
            let max_age = options
                .max_age
                .map_or(0, |age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
            let mut conn = shared.commands.clone();
            let (id, duplicate): (String, u8) = shared
                .publish
                .key(&key)
                .key(&ids_key)
                .arg(&frame[..])
                .arg(u8::from(own_id.is_some()))
                .arg(own_id.as_deref().unwrap_or_default())
                .arg(options.max_len.max(1))
                .arg(max_age)
                .arg(tagged)
                .arg(&topics[..])
                .invoke_async(&mut conn)
                .await
                .map_err(|error| shared.failed(error))?;
            let id = id
                .parse::<GlobalId>()
                .map_err(|error| BackplaneError::Protocol(error.to_string()))?;
            Ok(Appended {
                id,
                duplicate: duplicate == 1,
            })
        })
    }

    fn watch(&self, stream: &str) -> BoxFuture<'static, Result<GlobalId, BackplaneError>> {
        let shared = Arc::clone(&self.shared);
        let stream = stream.to_owned();
        Box::pin(async move {
            if let Some(read) = shared.watched().get(&stream) {
                return Ok(*read);
            }
            // Read from the stream's current end, not `$` at the next XREAD:
            // a replay read after this returns must not leave a gap.
            let mut conn = shared.commands.clone();
            let newest: Result<StreamRangeReply, _> = redis::cmd("XREVRANGE")
                .arg(shared.key(&stream))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await;
            let (start, error) = match newest {
                Ok(reply) => match reply.ids.first() {
                    Some(entry) => match entry.id.parse::<GlobalId>() {
                        Ok(id) => (id, None),
                        Err(error) => (now(), Some(BackplaneError::Protocol(error.to_string()))),
                    },
                    None => (GlobalId::default(), None),
                },
                // Redis is down: start from this node's clock, the best
                // guess of where the log ends.
                Err(error) => (now(), Some(shared.failed(error))),
            };
            let (first, start) = {
                let mut watched = shared.watched();
                let first = watched.is_empty();
                // Another subscriber may have watched it meanwhile: its
                // start stands.
                (first, *watched.entry(stream).or_insert(start))
            };
            if first {
                shared.wake.notify_one();
            }
            match error {
                Some(error) => Err(error),
                None => Ok(start),
            }
        })
    }

    fn unwatch(&self, stream: &str) {
        self.shared.watched().remove(stream);
    }

    fn read_after(
        &self,
        stream: &str,
        last_event_id: &str,
        limit: usize,
    ) -> BoxFuture<'static, Result<ReadAfter, BackplaneError>> {
        let shared = Arc::clone(&self.shared);
        let (key, ids_key) = (shared.key(stream), shared.ids_key(stream));
        // Publisher ids of the global form are refused, so the form says
        // which of the two a Last-Event-ID is.
        let global = last_event_id.parse::<GlobalId>().is_ok();
        let last_event_id = last_event_id.to_owned();
        Box::pin(async move {
            let mut conn = shared.commands.clone();
            let (found, mut reply): (String, StreamRangeReply) = shared
                .read_after
                .key(&key)
                .key(&ids_key)
                .arg(&last_event_id)
                .arg(u8::from(global))
                .arg(limit)
                .invoke_async(&mut conn)
                .await
                .map_err(|error| shared.failed(error))?;
            let found = match found.as_str() {
                "" => {
                    // The newest held, newest first.
                    reply.ids.reverse();
                    None
                }
                id => Some(
                    id.parse::<GlobalId>()
                        .map_err(|error| BackplaneError::Protocol(error.to_string()))?,
                ),
            };
            // An entry another program wrote is skipped, not fatal.
            let events = reply
                .ids
                .iter()
                .filter_map(|e| entry::event(e).ok())
                .collect();
            Ok(ReadAfter { found, events })
        })
    }
}

/// This node's clock as a global id.
fn now() -> GlobalId {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_millis());
    GlobalId {
        millis: u64::try_from(millis).unwrap_or(u64::MAX),
        seq: 0,
    }
}

impl std::fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("options", &self.shared.options)
            .field("watched_streams", &self.watched_streams())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefixes_that_overlap_are_refused() {
        for (streams, ids) in [("sse:", "sse:"), ("sse:", "sse:id:"), ("", "ids:")] {
            let options = RedisOptions {
                key_prefix: streams.to_owned(),
                ids_key_prefix: ids.to_owned(),
                ..RedisOptions::default()
            };
            let refused = RedisBackplane::new("redis://127.0.0.1:1", options).unwrap_err();
            assert!(
                matches!(refused, ConnectError::OverlappingPrefixes { .. }),
                "{streams:?} and {ids:?}: {refused}"
            );
        }
    }
}
