//! The `Server` handle: the async API over the actors.

use std::sync::Arc;

use actix::{Actor, Addr, Arbiter, System};
use futures_util::future::join_all;
use sse_proto::Event;

use crate::config::{ServerBuilder, ServerConfig, StreamOptions};
use crate::error::{BuildError, PublishError, ServerClosed, SubscribeError, TryPublishError};
use crate::server_actor::{
    Close, CreateStream, Origin, Refused, Registry, RemoveStream, ServerActor,
};
use crate::stats::{Counters, Stats, StatsProbe};
use crate::stream::{Published, StreamHandle, StreamInfo};
use crate::stream_actor::Chooser;
use crate::subscription::{SubscribeRequest, SubscriberInfo, Subscription};
use crate::topics::Topics;

/// An SSE server core: named streams you publish to and subscribe to.
///
/// Cheap to clone; every clone drives the same server. Create it inside a
/// running actix `System`. Dropping the last clone closes the server as
/// [`close`](Self::close) does, without waiting.
#[derive(Clone)]
pub struct Server {
    addr: Addr<ServerActor>,
    registry: Arc<Registry>,
    config: Arc<ServerConfig>,
    counters: Arc<Counters>,
}

impl ServerBuilder {
    /// Starts the server and its arbiters.
    ///
    /// # Panics
    /// Without a running actix `System` on this thread; see [`try_build`](Self::try_build).
    pub fn build(self) -> Server {
        match self.try_build() {
            Ok(server) => server,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts the server and its arbiters, or says why it cannot.
    pub fn try_build(self) -> Result<Server, BuildError> {
        if System::try_current().is_none() {
            return Err(BuildError::NoSystem);
        }
        let config = Arc::new(self.config);
        let registry = Arc::new(Registry::default());
        if let Some(backplane) = &config.backplane {
            backplane.attach(crate::backplane::Inbound::new(&registry));
        }
        let counters = Arc::new(Counters::default());
        let arbiters = (0..config.arbiters).map(|_| Arbiter::new()).collect();
        let addr = ServerActor {
            config: Arc::clone(&config),
            registry: Arc::clone(&registry),
            counters: Arc::clone(&counters),
            arbiters,
            next_arbiter: 0,
            next_instance: 0,
            boot_millis: crate::ids::boot_millis(config.clock.unix_now()),
            auto_streams: 0,
            budget: Arc::new(crate::budget::LogBudget::new(
                config.memory_budget,
                Arc::clone(&counters),
            )),
        }
        .start();
        Ok(Server {
            addr,
            registry,
            config,
            counters,
        })
    }
}

impl Server {
    /// A builder with every default (see [`ServerBuilder`]).
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// A server with every default.
    ///
    /// # Panics
    /// Without a running actix `System` on this thread.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Server {
        Server::builder().build()
    }

    /// Creates the stream `name` with the server's options, or returns the
    /// existing one (which keeps its options).
    pub async fn create_stream(&self, name: &str) -> Result<StreamHandle, ServerClosed> {
        self.create_stream_with(name, StreamOptions::default())
            .await
    }

    /// Creates the stream `name` with its own options, or returns the existing
    /// one (which keeps its options).
    pub async fn create_stream_with(
        &self,
        name: &str,
        options: StreamOptions,
    ) -> Result<StreamHandle, ServerClosed> {
        // Only auto-created streams are limited, so an explicit create is
        // refused only by a closed server.
        self.create(name, options, Origin::Explicit)
            .await
            .map_err(|_| ServerClosed)
    }

    async fn create(
        &self,
        name: &str,
        options: StreamOptions,
        origin: Origin,
    ) -> Result<StreamHandle, Refused> {
        let msg = CreateStream {
            name: name.to_owned(),
            options,
            origin,
        };
        self.addr.send(msg).await.unwrap_or(Err(Refused::Closed))
    }

    /// Removes the stream `name`: every subscription to it ends (with
    /// [`EndReason::StreamRemoved`](crate::EndReason::StreamRemoved)) before
    /// this returns, and its log is freed. Returns whether it existed;
    /// removing an unknown stream does nothing.
    pub async fn remove_stream(&self, name: &str) -> bool {
        self.addr
            .send(RemoveStream(name.to_owned()))
            .await
            .unwrap_or(false)
    }

    /// Whether the stream `name` exists.
    pub async fn stream_exists(&self, name: &str) -> bool {
        self.stream(name).is_some()
    }

    /// A handle on the stream `name`, if it exists.
    pub fn stream(&self, name: &str) -> Option<StreamHandle> {
        self.registry.get(name).filter(|s| !s.is_removed())
    }

    /// Every stream, in no particular order.
    pub async fn streams(&self) -> Vec<StreamInfo> {
        self.registry
            .all()
            .iter()
            .filter(|s| !s.is_removed())
            .map(StreamHandle::info)
            .collect()
    }

    /// Publishes `event` to the stream `name`, waiting while its buffer is
    /// full. Returns the event's wire id and sequence number.
    ///
    /// With a [backplane](ServerBuilder::backplane) and auto-stream on, any
    /// name is accepted (its subscribers may be on other nodes); the event is
    /// delivered once the backplane hands it back. Such names create no
    /// stream here, so nothing bounds how many a publisher invents:
    /// [`publish_creating`](Self::publish_creating) counts them.
    pub async fn publish(&self, name: &str, event: Event) -> Result<Published, PublishError> {
        self.publish_about(name, event, None).await
    }

    /// Publishes `event` about `topics` to the stream `name`: only the
    /// subscribers whose [`TopicFilter`](crate::TopicFilter) accepts it get
    /// it, and, unless it is private, those without a filter (see
    /// [`topics`](crate::topics)). Waits as [`publish`](Self::publish) does.
    pub async fn publish_tagged(
        &self,
        name: &str,
        event: Event,
        topics: Topics,
    ) -> Result<Published, PublishError> {
        self.publish_about(name, event, Some(topics)).await
    }

    async fn publish_about(
        &self,
        name: &str,
        event: Event,
        topics: Option<Topics>,
    ) -> Result<Published, PublishError> {
        match self.registry.get(name) {
            Some(stream) => match topics {
                None => stream.publish(event).await,
                Some(topics) => stream.publish_tagged(event, topics).await,
            },
            None if self.registry.is_closed() => Err(PublishError::ServerClosed),
            None if self.config.auto_stream && self.config.backplane.is_some() => {
                let backplane = self
                    .config
                    .backplane
                    .as_deref()
                    .ok_or(PublishError::ServerClosed)?;
                let encoder = sse_proto::Encoder::new().with_base64(self.config.base64);
                let max_retry = self.config.max_retry;
                let topics = topics.map(std::sync::Arc::new);
                crate::stream::publish_global(backplane, &encoder, name, max_retry, event, topics)
                    .await
            }
            None => Err(PublishError::UnknownStream {
                stream: name.to_owned(),
            }),
        }
    }

    /// Publishes `event` to the stream `name` as [`publish`](Self::publish)
    /// does, and with auto-stream on creates the stream first if it does not
    /// exist, as subscribing would: it counts against
    /// [`max_auto_streams`](ServerBuilder::max_auto_streams) (past it:
    /// [`PublishError::TooManyStreams`]) and retires once it has had no
    /// subscriber for [`auto_stream_idle`](ServerBuilder::auto_stream_idle)
    /// from its creation. So publishing to invented names, on one node or
    /// through a backplane, fills the limit only for that long. An event
    /// that cannot be encoded creates nothing.
    pub async fn publish_creating(
        &self,
        name: &str,
        event: Event,
    ) -> Result<Published, PublishError> {
        if !self.config.auto_stream || self.registry.is_closed() {
            return self.publish(name, event).await;
        }
        // A stream found may retire (idle, or its last subscriber left a
        // stream without a log) or be removed before it takes the event;
        // each retry creates it again. The bound turns a pathological churn
        // into StreamRemoved instead of a spin.
        let mut checked = false;
        for _ in 0..64 {
            let stream = match self.stream(name) {
                Some(stream) => stream,
                None => {
                    // No stream is created for an event no stream can take.
                    if !checked {
                        sse_proto::Encoder::new()
                            .with_base64(self.config.base64)
                            .encode(&event)?;
                        checked = true;
                    }
                    self.create(name, StreamOptions::default(), Origin::Publisher)
                        .await
                        .map_err(|refused| match refused {
                            Refused::Closed => PublishError::ServerClosed,
                            Refused::TooManyAutoStreams(limit) => PublishError::TooManyStreams {
                                stream: name.to_owned(),
                                limit,
                            },
                        })?
                }
            };
            // Through a backplane the stream is only this node's count of
            // the name: once created (within the limit), the event goes to
            // the shared log even if the stream retired meanwhile.
            if let Some(backplane) = &stream.state.backplane {
                return crate::stream::publish_global(
                    &**backplane,
                    &stream.state.encoder,
                    name,
                    stream.state.max_retry,
                    event,
                    None,
                )
                .await;
            }
            match stream.publish_local(&event, None).await {
                Err(PublishError::StreamRemoved { .. }) if !self.registry.is_closed() => {}
                result => return result,
            }
        }
        Err(PublishError::StreamRemoved {
            stream: name.to_owned(),
        })
    }

    /// Publishes `event` to the stream `name` if its buffer has room; never
    /// waits. With a small buffer this favours the latest events over
    /// reliable delivery (r3labs `TryPublish`).
    pub fn try_publish(&self, name: &str, event: Event) -> Result<Published, TryPublishError> {
        self.try_publish_about(name, event, None)
    }

    /// [`publish_tagged`](Self::publish_tagged) if the stream's buffer has
    /// room; never waits.
    pub fn try_publish_tagged(
        &self,
        name: &str,
        event: Event,
        topics: Topics,
    ) -> Result<Published, TryPublishError> {
        self.try_publish_about(name, event, Some(topics))
    }

    fn try_publish_about(
        &self,
        name: &str,
        event: Event,
        topics: Option<Topics>,
    ) -> Result<Published, TryPublishError> {
        match self.registry.get(name) {
            Some(stream) => match topics {
                None => stream.try_publish(event),
                Some(topics) => stream.try_publish_tagged(event, topics),
            },
            None if self.registry.is_closed() => Err(TryPublishError::ServerClosed),
            None if self.config.backplane.is_some() => Err(TryPublishError::Backplane {
                stream: name.to_owned(),
            }),
            None => Err(TryPublishError::UnknownStream {
                stream: name.to_owned(),
            }),
        }
    }

    /// Subscribes to the stream `name`, creating it first if auto-stream is
    /// on. With auto-replay the subscription starts with the logged events
    /// after `request.last_event_id` (all of them if it is absent or unknown).
    pub async fn subscribe(
        &self,
        name: &str,
        request: SubscribeRequest,
    ) -> Result<Subscription, SubscribeError> {
        // An idle auto-stream may retire between lookup and subscribe; the
        // retry then creates a fresh one. Each retry means another subscriber
        // joined and left meanwhile (only that retires a stream), so retries
        // are progress elsewhere; the bound turns a pathological churn into
        // StreamRemoved instead of a spin.
        for _ in 0..64 {
            if self.registry.is_closed() {
                return Err(SubscribeError::ServerClosed);
            }
            let stream = match self.registry.get(name) {
                Some(stream) if !stream.is_removed() => stream,
                _ if self.config.auto_stream => self
                    .create(name, StreamOptions::default(), Origin::Subscriber)
                    .await
                    .map_err(|refused| match refused {
                        Refused::Closed => SubscribeError::ServerClosed,
                        Refused::TooManyAutoStreams(limit) => SubscribeError::TooManyStreams {
                            stream: name.to_owned(),
                            limit,
                        },
                    })?,
                _ => {
                    return Err(SubscribeError::UnknownStream {
                        stream: name.to_owned(),
                    });
                }
            };
            match stream.subscribe(request.clone()).await {
                Err(SubscribeError::StreamRemoved { .. }) if self.config.auto_stream => continue,
                Err(SubscribeError::StreamRemoved { .. }) if self.registry.is_closed() => {
                    return Err(SubscribeError::ServerClosed);
                }
                result => return result,
            }
        }
        Err(SubscribeError::StreamRemoved {
            stream: name.to_owned(),
        })
    }

    /// Closes the server, gracefully: publishing stops, every event accepted
    /// so far is fanned out, and every subscription ends (with
    /// [`EndReason::ServerClosed`](crate::EndReason::ServerClosed)) after
    /// yielding what it was owed. Every stream and its log is freed and the
    /// arbiters stop before this returns; it first waits, up to the
    /// [drain timeout](ServerBuilder::drain_timeout), for the connected
    /// subscribers to read what they are owed. Later calls fail with
    /// `ServerClosed`; closing twice is a no-op.
    pub async fn close(&self) {
        // An error means the server actor is gone, so everything already ended.
        let _ = self.addr.send(Close).await;
    }

    /// Ends the subscriber `id` (the [`SubscriberInfo::id`] the
    /// callbacks and [`Subscription::id`] see), to revoke its session, say:
    /// its subscription ends with [`EndReason::Kicked`](crate::EndReason::Kicked)
    /// and what it had queued is dropped; its `on_unsubscribe` callbacks ran
    /// once before this returns. Answers whether it was subscribed.
    pub async fn kick(&self, id: u64) -> bool {
        self.kick_where(move |info| info.id == id).await > 0
    }

    /// Ends every subscriber, on every stream, that `chosen` picks (by its
    /// label or stream, say), as [`kick`](Self::kick) ends one. Answers how
    /// many. `chosen` runs on the streams' arbiter threads.
    ///
    /// ```
    /// use sse_actors::{EndReason, Server, SubscribeRequest};
    ///
    /// actix_rt::System::new().block_on(async {
    ///     let server = Server::builder().arbiters(1).build();
    ///     server.create_stream("news").await?;
    ///     let request = SubscribeRequest::new().label("user-7");
    ///     let subscription = server.subscribe("news", request).await?;
    ///     let kicked = server
    ///         .kick_where(|info| info.label.as_deref() == Some("user-7"))
    ///         .await;
    ///     assert_eq!(kicked, 1);
    ///     assert_eq!(subscription.end_reason(), Some(EndReason::Kicked));
    ///     server.close().await;
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub async fn kick_where(
        &self,
        chosen: impl Fn(&SubscriberInfo) -> bool + Send + Sync + 'static,
    ) -> usize {
        let chosen: Chooser = Arc::new(chosen);
        let streams = self.registry.all();
        let kicks = streams.iter().map(|s| s.addr.kick(Arc::clone(&chosen)));
        join_all(kicks).await.into_iter().sum()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.registry.is_closed()
    }

    /// The extra response headers configured with
    /// [`ServerBuilder::header`], in order, for the transport to send.
    pub fn headers(&self) -> &[(String, String)] {
        &self.config.headers
    }

    /// Whether subscribing to an unknown stream creates it.
    pub fn auto_stream(&self) -> bool {
        self.config.auto_stream
    }

    /// A snapshot of live objects and totals.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// A probe for [`stats`](Self::stats) that outlives this server.
    pub fn stats_probe(&self) -> StatsProbe {
        StatsProbe(Arc::clone(&self.counters))
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
