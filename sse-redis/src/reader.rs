//! The node's one reader: a blocking `XREAD` over every watched stream on a
//! dedicated connection, handing entries to the local stream actors.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use redis::AsyncConnectionConfig;
use redis::streams::StreamReadReply;
use sse_actors::{GlobalId, Inbound};

use crate::backplane::BackplaneState;
use crate::entry;

/// Reads until the server it delivers to closes. Redis going away only
/// pauses it: it reconnects with backoff and resumes after the newest id
/// it delivered of each stream, so nothing is skipped or repeated.
pub(crate) async fn run(shared: Arc<BackplaneState>, inbound: Inbound) {
    let options = &shared.options;
    // The read blocks on the server for `block`; only a longer silence
    // means the connection is gone.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(options.timeout))
        .set_response_timeout(Some(options.block + options.timeout));
    let mut delay = options.retry_min;
    let mut connected_before = false;
    while !inbound.is_closed() {
        let mut conn = match shared
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => {
                if std::mem::replace(&mut connected_before, true) {
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                conn
            }
            Err(error) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("Redis backplane: cannot connect ({error}); retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(options.retry_max);
                continue;
            }
        };
        while !inbound.is_closed() {
            let positions: Vec<(String, GlobalId)> = shared
                .watched()
                .iter()
                .map(|(name, id)| (name.clone(), *id))
                .collect();
            if positions.is_empty() {
                // Timed, so a closed server is noticed without a wake-up.
                let _ = tokio::time::timeout(options.block, shared.wake.notified()).await;
                continue;
            }
            let mut read = redis::cmd("XREAD");
            read.arg("COUNT")
                .arg(options.read_count)
                .arg("BLOCK")
                .arg(u64::try_from(options.block.as_millis()).unwrap_or(u64::MAX))
                .arg("STREAMS");
            for (name, _) in &positions {
                read.arg(shared.key(name));
            }
            for (_, id) in &positions {
                read.arg(id.to_string());
            }
            match read.query_async::<Option<StreamReadReply>>(&mut conn).await {
                Ok(reply) => {
                    delay = options.retry_min;
                    if let Some(reply) = reply {
                        deliver(&shared, &inbound, reply).await;
                    }
                }
                Err(error) => {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "Redis backplane: read failed ({error}); reconnecting in {delay:?}"
                    );
                    break;
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(options.retry_max);
    }
}

/// Hands the entries to the local streams, waiting while one is behind
/// (its buffer of events not yet fanned out is full): the next read waits.
async fn deliver(shared: &BackplaneState, inbound: &Inbound, reply: StreamReadReply) {
    let prefix = shared.options.key_prefix.as_str();
    for key in reply.keys {
        let Some(stream) = key.key.strip_prefix(prefix) else {
            continue;
        };
        for entry in &key.ids {
            let Ok(id) = entry.id.parse::<GlobalId>() else {
                continue;
            };
            {
                // Advance first: an entry this crate did not write is
                // skipped for good rather than read forever.
                let mut watched = shared.watched();
                match watched.get_mut(stream) {
                    Some(last) if id > *last => *last = id,
                    Some(_) => continue,
                    None => break,
                }
            }
            let Ok(event) = entry::event(entry) else {
                tracing::warn!(stream, id = %entry.id, "Redis backplane: skipping a foreign entry");
                continue;
            };
            if !inbound.deliver(stream, event).await {
                shared.watched().remove(stream);
                break;
            }
        }
    }
}
