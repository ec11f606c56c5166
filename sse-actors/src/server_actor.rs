//! The Server actor: the registry of named streams, and the only writer of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use actix::{Actor, Arbiter, AsyncContext, Context, Handler, Message, ResponseFuture};
use futures_util::future::join_all;
use sse_proto::Encoder;
use tokio::sync::Semaphore;

use crate::budget::LogBudget;
use crate::config::{ServerConfig, StreamOptions};
use crate::queue::Drain;
use crate::sequencing::{Global, Local, Sequencing};
use crate::stats::Counters;
use crate::stream::{StreamAddr, StreamHandle, StreamState};
use crate::stream_actor::{Driving, StreamActor};
use crate::stream_core::StreamCore;
use crate::subscription::EndReason;

/// The registry, readable by every handle without a message round trip (so
/// `try_publish` can stay synchronous); written only by the Server actor, so
/// create and remove are serialised.
#[derive(Default)]
pub(crate) struct Registry {
    streams: RwLock<HashMap<Arc<str>, StreamHandle>>,
    closed: AtomicBool,
}

impl Registry {
    pub(crate) fn get(&self, name: &str) -> Option<StreamHandle> {
        self.read().get(name).cloned()
    }

    pub(crate) fn all(&self) -> Vec<StreamHandle> {
        self.read().values().cloned().collect()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, StreamHandle>> {
        self.streams
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Arc<str>, StreamHandle>> {
        self.streams
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Creates a stream, or returns the live one of that name.
#[derive(Message)]
#[rtype(result = "Result<StreamHandle, Refused>")]
pub(crate) struct CreateStream {
    pub(crate) name: String,
    pub(crate) options: StreamOptions,
    pub(crate) origin: Origin,
}

/// Who a stream is created for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// [`Server::create_stream`](crate::Server::create_stream): it stays
    /// until removed.
    Explicit,
    /// Auto-stream, for a subscriber about to join.
    Subscriber,
    /// Auto-stream, for a publisher: no one may ever join.
    Publisher,
}

/// Why a stream was not created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Closed,
    TooManyAutoStreams(usize),
}

/// Removes a stream; answers whether it existed, once its subscriptions ended.
#[derive(Message)]
#[rtype(result = "bool")]
pub(crate) struct RemoveStream(pub(crate) String);

/// An auto-created stream retired itself.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StreamIdle {
    pub(crate) name: Arc<str>,
    pub(crate) instance: u64,
}

/// Ends every stream and subscription and stops the arbiters.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Close;

pub(crate) struct ServerActor {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) arbiters: Vec<Arbiter>,
    pub(crate) next_arbiter: usize,
    pub(crate) next_instance: u64,
    /// When the server started (ms since the Unix epoch): with the
    /// instance, the epoch of a stream's generated ids.
    pub(crate) boot_millis: u64,
    /// Auto-created streams in the registry, for `max_auto_streams`.
    pub(crate) auto_streams: usize,
    /// What every stream's log counts against.
    pub(crate) budget: Arc<LogBudget>,
}

impl ServerActor {
    fn shutdown_all(&mut self) -> (Vec<StreamHandle>, Vec<Arbiter>) {
        self.registry.closed.store(true, Ordering::Release);
        let streams: Vec<StreamHandle> = self.registry.write().drain().map(|(_, s)| s).collect();
        self.counters.streams.store(0, Ordering::Release);
        self.auto_streams = 0;
        for stream in &streams {
            stream.state.close();
        }
        (streams, std::mem::take(&mut self.arbiters))
    }
}

impl ServerActor {
    /// Starts a stream actor on the next arbiter, round robin.
    fn start<S: Sequencing>(
        &mut self,
        order: S,
        options: crate::stream_core::CoreOptions,
        name: &Arc<str>,
        driving: Driving,
    ) -> actix::Addr<StreamActor<S>> {
        let now = self.config.clock.now();
        let core = StreamCore::new(
            Arc::clone(name),
            order,
            options,
            Arc::clone(&self.counters),
            now,
        );
        let actor = StreamActor::new(core, driving);
        if self.arbiters.is_empty() {
            return actor.start();
        }
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        StreamActor::start_in_arbiter(&arbiter.handle(), move |_| actor)
    }
}

impl Actor for ServerActor {
    type Context = Context<Self>;

    /// The last `Server` handle is gone without `close`: end everything
    /// anyway, so no thread or subscriber outlives the server.
    fn stopped(&mut self, _ctx: &mut Self::Context) {
        let (streams, arbiters) = self.shutdown_all();
        for stream in streams {
            stream.addr.shut_down_now(EndReason::ServerClosed);
        }
        for arbiter in arbiters {
            arbiter.stop();
        }
    }
}

impl Handler<CreateStream> for ServerActor {
    type Result = Result<StreamHandle, Refused>;

    fn handle(&mut self, msg: CreateStream, ctx: &mut Self::Context) -> Self::Result {
        if self.registry.is_closed() {
            return Err(Refused::Closed);
        }
        if let Some(existing) = self.registry.get(&msg.name)
            && !existing.state.is_closed()
        {
            return Ok(existing);
        }
        let auto_created = msg.origin != Origin::Explicit;
        if let Some(limit) = self.config.max_auto_streams
            && auto_created
            && self.auto_streams >= limit
        {
            return Err(Refused::TooManyAutoStreams(limit));
        }
        let options = self.config.resolve(&msg.options);
        self.next_instance += 1;
        let name: Arc<str> = msg.name.into();
        let epoch: Arc<str> = crate::ids::epoch(self.boot_millis, self.next_instance).into();
        let state = Arc::new(StreamState {
            name: Arc::clone(&name),
            permits: Arc::new(Semaphore::new(options.buffer_size)),
            capacity: options.buffer_size,
            seq: Default::default(),
            subscribers: Default::default(),
            logged_events: Default::default(),
            logged_bytes: Default::default(),
            encoder: Encoder::new().with_base64(options.base64),
            auto_created,
            instance: self.next_instance,
            counters: Arc::clone(&self.counters),
            backplane: self.config.backplane.clone(),
            replay_limit: if options.auto_replay {
                options.log_limits.max_events
            } else {
                0
            },
            replay_max_bytes: options.log_limits.max_bytes,
            first_replay: options.replay.first,
            backfills: Default::default(),
            recent_read: Default::default(),
            clock: self.config.clock.clone(),
            epoch: Arc::clone(&epoch),
            max_retry: self.config.max_retry,
        });
        let driving = Driving {
            state: Arc::clone(&state),
            callbacks: Arc::clone(&options.callbacks),
            keep_alive: options.keep_alive,
            ttl: options.event_ttl,
            server: ctx.address().downgrade(),
        };
        // A backplane's events reach a stream only once a subscriber made
        // the node watch it, so a publisher's stream would never fan out.
        let idle_from_start = msg.origin == Origin::Publisher && self.config.backplane.is_some();
        let mut core = options.core(auto_created, idle_from_start);
        core.budget = Some(Arc::clone(&self.budget));
        let addr = if self.config.backplane.is_some() {
            StreamAddr::Global(self.start(Global::default(), core, &name, driving))
        } else {
            StreamAddr::Local(self.start(Local::new(epoch), core, &name, driving))
        };
        let handle = StreamHandle { addr, state };
        match self.registry.write().insert(name, handle.clone()) {
            None => {
                self.counters.streams.fetch_add(1, Ordering::AcqRel);
            }
            Some(retired) if retired.state.auto_created => {
                self.auto_streams = self.auto_streams.saturating_sub(1)
            }
            Some(_) => {}
        }
        if auto_created {
            self.auto_streams += 1;
        }
        Ok(handle)
    }
}

impl Handler<RemoveStream> for ServerActor {
    type Result = ResponseFuture<bool>;

    fn handle(
        &mut self,
        RemoveStream(name): RemoveStream,
        _ctx: &mut Self::Context,
    ) -> Self::Result {
        let removed = self.registry.write().remove(name.as_str());
        match removed {
            None => Box::pin(async { false }),
            Some(stream) => {
                if let Some(backplane) = &self.config.backplane {
                    backplane.unwatch(&name);
                }
                self.counters.streams.fetch_sub(1, Ordering::AcqRel);
                if stream.state.auto_created {
                    self.auto_streams = self.auto_streams.saturating_sub(1);
                }
                stream.state.close();
                Box::pin(async move {
                    stream.addr.shut_down(EndReason::StreamRemoved, None).await;
                    true
                })
            }
        }
    }
}

impl Handler<StreamIdle> for ServerActor {
    type Result = ();

    fn handle(&mut self, msg: StreamIdle, _ctx: &mut Self::Context) {
        let mut streams = self.registry.write();
        let same = streams
            .get(&msg.name)
            .is_some_and(|s| s.state.instance == msg.instance);
        if same {
            if let Some(backplane) = &self.config.backplane {
                backplane.unwatch(&msg.name);
            }
            streams.remove(&msg.name);
            self.counters.streams.fetch_sub(1, Ordering::AcqRel);
            self.auto_streams = self.auto_streams.saturating_sub(1);
        }
    }
}

impl Handler<Close> for ServerActor {
    type Result = ResponseFuture<()>;

    /// Ends every subscription after what it was owed, then waits (up to
    /// the drain timeout) for the subscribers to read it.
    fn handle(&mut self, _: Close, _ctx: &mut Self::Context) -> Self::Result {
        let (streams, arbiters) = self.shutdown_all();
        let drain = Arc::new(Drain::default());
        let clock = self.config.clock.clone();
        let timeout = self.config.drain_timeout;
        // The timeout counts from the close, not from when the streams ended.
        let deadline = clock.now() + timeout;
        Box::pin(async move {
            join_all(streams.iter().map(|s| {
                s.addr
                    .shut_down(EndReason::ServerClosed, Some(Arc::clone(&drain)))
            }))
            .await;
            if !timeout.is_zero() {
                let expired = clock.sleep_until(deadline);
                futures_util::future::select(std::pin::pin!(drain.finished()), expired).await;
            }
            for arbiter in arbiters {
                arbiter.stop();
            }
        })
    }
}
