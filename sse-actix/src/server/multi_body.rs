//! The response body of a connection serving several streams: their frames
//! merged as they come, each event's `id:` line replaced by the
//! connection's resume id and its stream named in a `stream:` field.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{BufMut as _, Bytes, BytesMut};
use futures_util::Stream;
use sse_actors::{Delivery, EndReason, Subscription};

use crate::server::body::{BATCH_LIMIT, ConnectionLog};
use crate::server::latency::{LatencyProbe, live_published};
use crate::server::limit::ConnectionGuard;
use crate::server::resume_id::Cursor;

/// One of the connection's streams.
pub(crate) struct Member {
    subscription: Subscription,
    /// `stream: NAME\n`, written after each of its events' id line.
    field: Box<[u8]>,
    ended: bool,
}

impl Member {
    pub(crate) fn new(name: &str, subscription: Subscription) -> Member {
        Member {
            subscription,
            field: format!("stream: {name}\n").into_bytes().into_boxed_slice(),
            ended: false,
        }
    }
}

/// Streams several subscriptions' frames after an optional first frame,
/// holding one connection slot. Each event is its stream's shared frame
/// past its own `id:` line (the length the stream recorded, never
/// re-parsed), after an `id:` line written for this connection and the
/// `stream:` field: per event, only the id is this connection's work.
pub(crate) struct MultiBody {
    first: Option<Bytes>,
    members: Vec<Member>,
    cursor: Cursor,
    /// The member read first at the next poll, so no stream starves the others.
    next: usize,
    /// What one poll read, and from which member (kept for their capacity).
    deliveries: Vec<Delivery>,
    owners: Vec<usize>,
    /// The ids written in one poll, and where each ends.
    ids: String,
    id_ends: Vec<usize>,
    /// The body ended (nothing is polled again).
    done: bool,
    _slot: ConnectionGuard,
    log: ConnectionLog,
    latency: LatencyProbe,
}

/// Scratch capacity kept between polls; a burst past it is given back.
const KEPT_SCRATCH: usize = 64;

impl MultiBody {
    pub(crate) fn new(
        first: Option<Bytes>,
        members: Vec<Member>,
        cursor: Cursor,
        slot: ConnectionGuard,
        log: ConnectionLog,
        latency: LatencyProbe,
    ) -> Self {
        MultiBody {
            first,
            members,
            cursor,
            next: 0,
            deliveries: Vec::new(),
            owners: Vec::new(),
            ids: String::new(),
            id_ends: Vec::new(),
            done: false,
            _slot: slot,
            log,
            latency,
        }
    }

    /// Reads what every live member has queued, up to the batch limit.
    /// Answers whether every live member is waiting (its waker registered).
    fn gather(&mut self, cx: &mut Context<'_>) -> bool {
        let count = self.members.len();
        let mut budget = BATCH_LIMIT;
        let mut waiting = true;
        for k in 0..count {
            let at = (self.next + k) % count;
            if self.members[at].ended {
                continue;
            }
            if budget == 0 {
                waiting = false;
                break;
            }
            let before = self.deliveries.len();
            let member = &mut self.members[at];
            match member
                .subscription
                .poll_deliveries(cx, &mut self.deliveries, budget)
            {
                Poll::Pending => {}
                Poll::Ready(0) => {
                    waiting = false;
                    member.ended = true;
                    self.member_ended(at);
                }
                Poll::Ready(_) => {
                    waiting = false;
                    let read: usize = self.deliveries[before..]
                        .iter()
                        .map(|d| d.frame.len())
                        .sum();
                    budget = budget.saturating_sub(read);
                    self.owners.resize(self.deliveries.len(), at);
                }
            }
        }
        self.next = (self.next + 1) % count.max(1);
        waiting
    }

    /// A closing server ends every stream after what it accepted: each is
    /// read to its end. Any other end of one stream (removed, lagged,
    /// kicked) ends the connection; the client resumes every stream from
    /// the last id it got.
    fn member_ended(&mut self, at: usize) {
        let reason = self.members[at].subscription.end_reason();
        self.log.ended_by.get_or_insert(reason);
        if reason != Some(EndReason::ServerClosed) || self.members.iter().all(|m| m.ended) {
            self.done = true;
        }
    }

    /// The chunk of what [`gather`](Self::gather) read: events with this
    /// connection's ids, and the first stream's keep-alives (the others'
    /// would only repeat them).
    fn write(&mut self) -> Option<Bytes> {
        self.ids.clear();
        self.id_ends.clear();
        let mut size = self.first.as_ref().map_or(0, Bytes::len);
        let mut start = 0;
        for (delivery, &owner) in self.deliveries.iter().zip(&self.owners) {
            match delivery.position {
                // A stream's gap signal: named like its events.
                None if delivery.is_gap() => {
                    size += self.members[owner].field.len() + delivery.frame.len();
                }
                None if owner == 0 => size += delivery.frame.len(),
                None => {}
                Some(position) => {
                    self.cursor.advance(owner, position);
                    self.cursor.write_id(owner, &mut self.ids);
                    self.id_ends.push(self.ids.len());
                    size += "id: \n".len()
                        + (self.ids.len() - start)
                        + self.members[owner].field.len()
                        + (delivery.frame.len() - delivery.id_line);
                    start = self.ids.len();
                }
            }
        }
        let only_first = size == self.first.as_ref().map_or(0, Bytes::len);
        let chunk = if only_first {
            self.first.take()
        } else {
            let mut chunk = BytesMut::with_capacity(size);
            if let Some(first) = self.first.take() {
                chunk.put_slice(&first);
            }
            let (mut start, mut ends) = (0, self.id_ends.iter());
            for (delivery, &owner) in self.deliveries.iter().zip(&self.owners) {
                match delivery.position {
                    None if delivery.is_gap() => {
                        chunk.put_slice(&self.members[owner].field);
                        chunk.put_slice(&delivery.frame);
                    }
                    None if owner == 0 => chunk.put_slice(&delivery.frame),
                    None => {}
                    Some(_) => {
                        let end = ends.next().copied().unwrap_or(start);
                        chunk.put_slice(b"id: ");
                        chunk.put_slice(&self.ids.as_bytes()[start..end]);
                        chunk.put_u8(b'\n');
                        chunk.put_slice(&self.members[owner].field);
                        chunk.put_slice(&delivery.frame[delivery.id_line..]);
                        start = end;
                    }
                }
            }
            debug_assert_eq!(chunk.len(), size);
            if self.latency.is_set() {
                // Streams interleave: the oldest is not always the first.
                let oldest = self.deliveries.iter().filter_map(live_published).min();
                self.latency.chunk_written(oldest);
            }
            Some(chunk.freeze())
        };
        self.log.frames += self.deliveries.len() as u64;
        self.clear_scratch();
        chunk
    }

    fn clear_scratch(&mut self) {
        self.deliveries.clear();
        self.owners.clear();
        if self.deliveries.capacity() > KEPT_SCRATCH {
            self.deliveries = Vec::new();
            self.owners = Vec::new();
            self.id_ends = Vec::new();
        }
        if self.ids.capacity() > KEPT_SCRATCH * 64 {
            self.ids = String::new();
        }
    }
}

impl Stream for MultiBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let waiting = this.done || this.gather(cx);
            if let Some(chunk) = this.write() {
                this.log.sent += chunk.len() as u64;
                return Poll::Ready(Some(Ok(chunk)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            // Only skipped keep-alives were read: read again, until every
            // member waits with its waker registered.
            if waiting {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use futures_util::StreamExt as _;
    use sse_actors::{Position, Server, SubscribeRequest};
    use sse_proto::Event;

    use super::*;
    use crate::server::limit::Connections;
    use crate::server::resume_id;

    const NAMES: [&str; 2] = ["a", "b"];

    fn log() -> ConnectionLog {
        ConnectionLog {
            stream: "a,b".to_owned(),
            peer: "test".to_owned(),
            opened: Instant::now(),
            sent: 0,
            frames: 0,
            ended_by: None,
        }
    }

    async fn body(server: &Server) -> MultiBody {
        let mut members = Vec::new();
        for name in NAMES {
            let subscription = server
                .subscribe(name, SubscribeRequest::new())
                .await
                .unwrap();
            members.push(Member::new(name, subscription));
        }
        let starts: Vec<_> = members.iter().map(|m| m.subscription.start()).collect();
        let epochs: Vec<_> = members.iter().map(|m| m.subscription.epoch()).collect();
        let cursor = Cursor::new(NAMES, &starts, &epochs);
        let slot = Connections::default().acquire(None).unwrap();
        MultiBody::new(None, members, cursor, slot, log(), LatencyProbe::default())
    }

    fn text(chunk: &Bytes) -> &str {
        std::str::from_utf8(chunk).unwrap()
    }

    #[actix_web::test]
    async fn each_event_gets_the_connections_id_and_its_streams_name_over_its_own_frame() {
        let server = Server::builder().arbiters(1).keep_alive(None).build();
        for name in NAMES {
            server.create_stream(name).await.unwrap();
        }
        server.publish("a", Event::data("a1")).await.unwrap();
        let mut body = body(&server).await;
        server
            .publish("b", Event::new("kind", "b1\nmore").id("mine"))
            .await
            .unwrap();
        let mut seen = String::new();
        while seen.matches("\n\n").count() < 2 {
            seen.push_str(text(&body.next().await.unwrap().unwrap()));
        }
        let events: Vec<&str> = seen.split_terminator("\n\n").collect();
        let (a1, b1) = if events[0].contains("a1") {
            (events[0], events[1])
        } else {
            (events[1], events[0])
        };
        let id_of = |event: &str| event.lines().next().unwrap()["id: ".len()..].to_owned();
        assert_eq!(&a1[a1.find('\n').unwrap()..], "\nstream: a\ndata: a1");
        assert_eq!(
            &b1[b1.find('\n').unwrap()..],
            "\nstream: b\nevent: kind\ndata: b1\ndata: more",
            "the publisher's id gives way to the connection's"
        );
        assert!(id_of(a1).starts_with("0.") && id_of(b1).starts_with("1."));
        // The later event's id holds where the client is in both streams.
        let last = if seen.find("a1") < seen.find("b1") {
            b1
        } else {
            a1
        };
        let epochs: Vec<_> = body
            .members
            .iter()
            .map(|m| m.subscription.epoch().map(str::to_owned))
            .collect();
        let positions = resume_id::decode(&id_of(last), NAMES)
            .unwrap()
            .into_iter()
            .map(|mark| (mark.position, mark.epoch))
            .collect::<Vec<_>>();
        assert_eq!(
            positions,
            [
                (Position::Seq(1), epochs[0].clone()),
                (Position::Seq(1), epochs[1].clone())
            ]
        );
        assert_eq!(body.log.frames, 2);
        // One stream's end ends the connection.
        assert!(server.remove_stream("b").await);
        assert!(body.next().await.is_none());
        assert_eq!(body.log.ended_by, Some(Some(EndReason::StreamRemoved)));
        server.close().await;
    }

    #[actix_web::test]
    async fn keep_alives_come_from_the_first_stream_only() {
        let server = Server::builder()
            .arbiters(1)
            .keep_alive(Some(Duration::from_millis(5)))
            .build();
        for name in NAMES {
            server.create_stream(name).await.unwrap();
        }
        let mut body = body(&server).await;
        // A keep-alive goes only into an empty queue: once both streams
        // queued one, neither queues another until it is read.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while body.members.iter().any(|m| m.subscription.queued() == 0) {
            assert!(tokio::time::Instant::now() < deadline, "no keep-alives");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let chunk = body.next().await.unwrap().unwrap();
        assert_eq!(text(&chunk), ": keep-alive\n");
        assert_eq!(body.members[1].subscription.queued(), 0, "read and dropped");
        server.close().await;
    }

    #[actix_web::test]
    async fn a_closing_server_delivers_what_every_stream_accepted_before_the_end() {
        let server = Server::builder().arbiters(1).keep_alive(None).build();
        for name in NAMES {
            server.create_stream(name).await.unwrap();
        }
        let mut body = body(&server).await;
        for name in NAMES {
            server.publish(name, Event::data(name)).await.unwrap();
        }
        let closing = actix_web::rt::spawn({
            let server = server.clone();
            async move { server.close().await }
        });
        let mut seen = String::new();
        while let Some(chunk) = body.next().await {
            seen.push_str(text(&chunk.unwrap()));
        }
        assert!(
            seen.contains("data: a\n") && seen.contains("data: b\n"),
            "{seen}"
        );
        assert_eq!(body.log.ended_by, Some(Some(EndReason::ServerClosed)));
        closing.await.unwrap();
    }
}
