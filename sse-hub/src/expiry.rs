//! Ending a subscription when the token that opened it expires.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use actix_web::HttpResponse;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use tokio::time::Sleep;

/// Deadlines further away than this get no timer: the connection will not
/// live that long (and tokio's timer wheel has a horizon).
const HORIZON: Duration = Duration::from_secs(365 * 24 * 3600);

/// `response` (an event stream) ending at `deadline`: one timer per
/// subscription, polled with the body, nothing per event.
/// `expired` counts the subscriptions it ends; `stream` and `peer` go into
/// the log line.
pub(crate) fn end_at(
    response: HttpResponse,
    deadline: SystemTime,
    expired: Counter,
    stream: String,
    peer: String,
) -> HttpResponse {
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    if left > HORIZON {
        return response;
    }
    response.map_body(|_, body| {
        BoxBody::new(Expiring {
            body,
            timer: Box::pin(tokio::time::sleep(left)),
            expired,
            stream,
            peer,
        })
    })
}

struct Expiring {
    body: BoxBody,
    timer: Pin<Box<Sleep>>,
    expired: Counter,
    stream: String,
    peer: String,
}

impl MessageBody for Expiring {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if this.timer.as_mut().poll(cx).is_ready() {
            // A clean end: EventSource reconnects, and its expired token is
            // refused with 401, which stops it.
            // Its close line follows, with `end` ConnectionDropped.
            tracing::info!(
                stream = %this.stream,
                peer = %this.peer,
                end = "TokenExpired",
                "event stream ended: the token expired"
            );
            this.expired.inc();
            return Poll::Ready(None);
        }
        Pin::new(&mut this.body).poll_next(cx)
    }
}
