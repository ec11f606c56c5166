//! Prometheus metrics at `GET /metrics`: the event server's counts, read at
//! scrape time (nothing on the delivery path), plus what only the hub sees.
//! Labels are bounded: never one per stream.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sse_actix::Sse;

/// What a cluster backplane (Redis) counts, as running totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackplaneCounts {
    /// Commands and connection attempts that failed.
    pub errors: u64,
    /// Times the backplane connected again after losing its store.
    pub reconnects: u64,
}

type CountsSource = Box<dyn Fn() -> BackplaneCounts + Send + Sync>;

/// `[("endpoint", …), ("status", …)]`.
type Refusal = [(&'static str, &'static str); 2];

impl std::fmt::Debug for HubMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubMetrics").finish_non_exhaustive()
    }
}

/// The hub's own counters, shared by every worker.
pub(crate) struct HubMetrics {
    registry: Registry,
    subscriptions_opened: Counter,
    refused: Family<Refusal, Counter>,
    /// Subscriptions ended because their JWT expired.
    pub(crate) token_expired: Counter,
    publish_seconds: Histogram,
    delivery_seconds: Histogram,
    backplane_errors: Counter,
    backplane: Arc<OnceLock<CountsSource>>,
}

impl HubMetrics {
    pub(crate) fn new(sse: &Sse) -> HubMetrics {
        let mut registry = Registry::with_prefix("sse");
        let subscriptions_opened = Counter::default();
        registry.register(
            "subscriptions_opened",
            "Event streams opened",
            subscriptions_opened.clone(),
        );
        let refused = Family::<Refusal, Counter>::default();
        registry.register(
            "requests_refused",
            "Subscribe and publish requests refused, by endpoint and HTTP status",
            refused.clone(),
        );
        // 0.5 ms to about 8 s.
        let publish_seconds = Histogram::new(exponential_buckets(0.0005, 4.0, 8));
        registry.register(
            "publish_duration_seconds",
            "Time from a publish request to the event server accepting the event \
             (in a cluster, the Redis round trip included)",
            publish_seconds.clone(),
        );
        // 0.1 ms to about 1.6 s.
        let delivery_seconds = Histogram::new(exponential_buckets(0.0001, 4.0, 8));
        registry.register(
            "delivery_latency_seconds",
            "Time from the event server accepting a live event to a response \
             taking it for its connection's write buffer; one sample per \
             chunk written, the wait of its oldest event",
            delivery_seconds.clone(),
        );
        let backplane_errors = Counter::default();
        registry.register(
            "backplane_publish_errors",
            "Publications the cluster backplane (Redis) refused; each was answered 503",
            backplane_errors.clone(),
        );
        let token_expired = Counter::default();
        let backplane = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(ServerCounts {
            sse: sse.clone(),
            token_expired: token_expired.clone(),
            backplane: Arc::clone(&backplane),
        }));
        HubMetrics {
            registry,
            subscriptions_opened,
            refused,
            token_expired,
            publish_seconds,
            delivery_seconds,
            backplane_errors,
            backplane,
        }
    }

    pub(crate) fn export_backplane_counts(&self, counts: CountsSource) {
        let _ = self.backplane.set(counts);
    }

    pub(crate) fn subscription_opened(&self) {
        self.subscriptions_opened.inc();
    }

    pub(crate) fn refused(&self, endpoint: &'static str, status: StatusCode) {
        self.refused
            .get_or_create(&[("endpoint", endpoint), ("status", status_label(status))])
            .inc();
    }

    pub(crate) fn published(&self, took: Duration) {
        self.publish_seconds.observe(took.as_secs_f64());
    }

    /// What the handler calls with each chunk's publish-to-write wait.
    pub(crate) fn delivery_latency_observer(&self) -> impl Fn(Duration) + Send + Sync + 'static {
        let histogram = self.delivery_seconds.clone();
        move |wait| histogram.observe(wait.as_secs_f64())
    }

    pub(crate) fn backplane_error(&self) {
        self.backplane_errors.inc();
    }

    /// The OpenMetrics text of every metric.
    pub(crate) fn response(&self) -> HttpResponse {
        let mut text = String::new();
        match prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            Ok(()) => HttpResponse::Ok()
                .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
                .body(text),
            Err(_) => HttpResponse::InternalServerError().finish(),
        }
    }
}

/// The statuses the hub answers refusals with; anything else is `other`.
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        413 => "413",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// What the event server and the handler count, read at each scrape.
struct ServerCounts {
    sse: Sse,
    token_expired: Counter,
    backplane: Arc<OnceLock<CountsSource>>,
}

impl std::fmt::Debug for ServerCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCounts").finish_non_exhaustive()
    }
}

impl Collector for ServerCounts {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.sse.server().stats();
        let gauges = [
            (
                "connections",
                "Event-stream responses open",
                self.sse.open_connections(),
            ),
            ("subscribers", "Subscribers alive", stats.subscriber_actors),
            ("streams", "Streams in the registry", stats.streams),
            (
                "log_bytes",
                "Encoded bytes every stream's replay log holds together (bounded by --memory-budget)",
                stats.log_bytes,
            ),
            (
                "unlogged_bytes",
                "Encoded bytes of frames no replay log holds that queues or writes still do (with sse_log_bytes, bounded by --memory-budget)",
                stats.unlogged_bytes,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let counters = [
            (
                "events_published",
                "Events accepted for publication",
                stats.published,
            ),
            (
                "frames_delivered",
                "Event frames queued to subscribers by fan-out",
                stats.delivered,
            ),
            (
                "frames_replayed",
                "Event frames replayed from the log to joining subscribers",
                stats.replayed,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let ended = [
            ("unsubscribed", stats.ended_unsubscribed),
            ("lagged", stats.lagged),
            ("stream_removed", stats.ended_stream_removed),
            ("server_closed", stats.ended_server_closed),
            ("kicked", stats.ended_kicked),
            ("token_expired", self.token_expired.get()),
        ];
        let mut family = encoder.encode_descriptor(
            "subscriptions_ended",
            "Subscriptions ended, by reason: unsubscribed (the client left or \
             the response ended), lagged (fell behind), stream_removed, \
             server_closed, kicked (ended by the application through \
             Server::kick), token_expired (its JWT's exp passed; also counted \
             as unsubscribed)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (reason, count) in ended {
            ConstCounter::new(count).encode(family.encode_family(&[("reason", reason)])?)?;
        }
        if let Some(read) = self.backplane.get() {
            let counts = read();
            let backplane = [
                (
                    "backplane_errors",
                    "Backplane (Redis) commands and connections that failed",
                    counts.errors,
                ),
                (
                    "backplane_reconnects",
                    "Times the backplane reader connected again after losing Redis",
                    counts.reconnects,
                ),
            ];
            for (name, help, value) in backplane {
                let counter = ConstCounter::new(value);
                counter.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    counter.metric_type(),
                )?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sse_actors::{Server, SubscribeRequest};

    use super::*;

    async fn sample(metrics: &HubMetrics, name: &str) -> Option<f64> {
        let body = actix_web::body::to_bytes(metrics.response().into_body())
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    #[actix_web::test]
    async fn a_kicked_subscriber_is_counted_under_its_own_reason() {
        let server = Server::builder().arbiters(1).build();
        server.create_stream("s").await.unwrap();
        let subscription = server
            .subscribe("s", SubscribeRequest::new())
            .await
            .unwrap();
        let metrics = HubMetrics::new(&Sse::new(server.clone()));
        let kicked = r#"sse_subscriptions_ended_total{reason="kicked"}"#;
        assert_eq!(sample(&metrics, kicked).await, Some(0.0));

        assert!(server.kick(subscription.id()).await);
        sse_testkit::until("the kick is counted", async || {
            sample(&metrics, kicked).await == Some(1.0)
        })
        .await;
    }
}
