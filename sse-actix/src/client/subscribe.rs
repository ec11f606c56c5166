//! The r3labs ways to consume: a handler run until cancelled, or a channel
//! fed by a task.

use std::fmt;
use std::future::Future;

use futures_util::StreamExt as _;
use sse_proto::{ByteString, Event};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Client;
use super::error::Error;
use super::live::LiveKind;
use super::restart::RestartHandle;
use super::session::{SharedSession, lock};
use super::stream::EventStream;

impl Client {
    /// Calls `handler` with each event of stream `name` (`?stream=NAME`),
    /// reconnecting as needed, until the subscription stops: `Ok(())` after
    /// `204 No Content` or a completed one-shot response
    /// ([`StopReason`](super::StopReason)), `Err` with the error that stopped
    /// it otherwise.
    /// Drop the future to cancel (or see
    /// [`subscribe_with_cancel`](Self::subscribe_with_cancel)). Transient
    /// errors go to the `on_disconnect` and `reconnect_notify` callbacks.
    pub async fn subscribe(&self, name: &str, handler: impl FnMut(Event)) -> Result<(), Error> {
        run(self.stream_of(name), handler).await
    }

    /// [`subscribe`](Self::subscribe) to the client's URL as it is.
    pub async fn subscribe_raw(&self, handler: impl FnMut(Event)) -> Result<(), Error> {
        run(self.stream(), handler).await
    }

    /// [`subscribe`](Self::subscribe) until `cancel` completes (then
    /// `Ok(())`): e.g. a `CancellationToken::cancelled()` or a oneshot.
    pub async fn subscribe_with_cancel(
        &self,
        cancel: impl Future<Output = ()>,
        name: &str,
        handler: impl FnMut(Event),
    ) -> Result<(), Error> {
        until(cancel, run(self.stream_of(name), handler)).await
    }

    /// [`subscribe_raw`](Self::subscribe_raw) until `cancel` completes.
    pub async fn subscribe_raw_with_cancel(
        &self,
        cancel: impl Future<Output = ()>,
        handler: impl FnMut(Event),
    ) -> Result<(), Error> {
        until(cancel, run(self.stream(), handler)).await
    }

    /// Sends each event of stream `name` to `sender`, from a task spawned
    /// on the current actix runtime; returns at once.
    ///
    /// The task ends on [`ChannelSubscription::unsubscribe`], when every receiver
    /// is gone, or when the subscription stops. It owns the `sender` you pass
    /// and drops it when it ends: the channel closes only if that was the
    /// last sender, so keep a clone to keep it open (Rust's rendering of
    /// r3labs' "the library never closes your channel"). A full channel
    /// pauses reading (backpressure), it never drops events.
    ///
    /// # Panics
    /// Outside an actix system (or a tokio `LocalSet`), where no local task
    /// can be spawned.
    pub fn subscribe_chan(&self, name: &str, sender: mpsc::Sender<Event>) -> ChannelSubscription {
        self.spawn_feeder(self.stream_of(name), sender)
    }

    /// [`subscribe_chan`](Self::subscribe_chan) to the client's URL as it is.
    ///
    /// # Panics
    /// Outside an actix system (or a tokio `LocalSet`).
    pub fn subscribe_chan_raw(&self, sender: mpsc::Sender<Event>) -> ChannelSubscription {
        self.spawn_feeder(self.stream(), sender)
    }

    fn spawn_feeder(
        &self,
        events: EventStream,
        sender: mpsc::Sender<Event>,
    ) -> ChannelSubscription {
        let shared = events.shared();
        let live = self.live.track(LiveKind::Task);
        let task = actix_rt::spawn(async move {
            let _live = live;
            let sink = sender.clone();
            let closed = async move { sender.closed().await };
            until(
                closed,
                run_async(events, move |event| {
                    let sink = sink.clone();
                    async move { sink.send(event).await.is_ok() }
                }),
            )
            .await
        });
        ChannelSubscription { task, shared }
    }
}

/// A running channel subscription. Dropping the handle leaves it running
/// (as r3labs does); end it with [`unsubscribe`](Self::unsubscribe) or by
/// dropping the receiver.
pub struct ChannelSubscription {
    task: JoinHandle<Result<(), Error>>,
    shared: SharedSession,
}

impl fmt::Debug for ChannelSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSubscription")
            .field("finished", &self.task.is_finished())
            .finish_non_exhaustive()
    }
}

impl ChannelSubscription {
    /// Stops the subscription: its connection, any pending reconnection
    /// delay and its task end at the task's next poll. Never blocks; calling
    /// it again, or after the subscription ended, does nothing.
    pub fn unsubscribe(&self) {
        self.task.abort();
    }

    /// Reconnects now, resuming from the last event ID, without reporting
    /// an error or waiting for a delay: see [`RestartHandle`].
    pub fn restart(&self) {
        self.restart_handle().restart();
    }

    /// A handle that restarts this subscription from another task.
    pub fn restart_handle(&self) -> RestartHandle {
        RestartHandle::new(&self.shared)
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Whether a response is accepted and being read right now.
    pub fn is_connected(&self) -> bool {
        lock(&self.shared).connected
    }

    /// The last event ID received; empty if none.
    pub fn last_event_id(&self) -> ByteString {
        lock(&self.shared).last_event_id.clone()
    }

    /// Waits for the task to end: `Ok(())` after unsubscribe, a closed
    /// channel or `204`; `Err` with the error that stopped it otherwise.
    pub async fn join(self) -> Result<(), Error> {
        match self.task.await {
            Ok(result) => result,
            // Only the feeding code runs in the task; pass a panic on.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_cancelled) => Ok(()),
        }
    }
}

impl EventStream {
    pub(crate) fn shared(&self) -> SharedSession {
        self.frames_shared()
    }
}

async fn until<F: Future<Output = Result<(), Error>>>(
    cancel: impl Future<Output = ()>,
    work: F,
) -> Result<(), Error> {
    tokio::select! {
        biased;
        () = cancel => Ok(()),
        result = work => result,
    }
}

async fn run(events: EventStream, mut handler: impl FnMut(Event)) -> Result<(), Error> {
    run_async(events, move |event| {
        handler(event);
        std::future::ready(true)
    })
    .await
}

/// Feeds `events` to `handler` until the stream stops or the handler
/// returns `false`; reports the error that stopped the stream, if any.
async fn run_async<F, Fut>(mut events: EventStream, mut handler: F) -> Result<(), Error>
where
    F: FnMut(Event) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut last_error = None;
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => {
                last_error = None;
                if !handler(event).await {
                    return Ok(());
                }
            }
            Err(error) => last_error = Some(error),
        }
    }
    match last_error {
        Some(error) if events.failed() => Err(error),
        _ => Ok(()),
    }
}
