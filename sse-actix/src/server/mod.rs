//! The actix-web side of the server: [`Sse`] turns requests into
//! subscriptions of an [`sse_actors::Server`] and streams their frames.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use sse_actix::server::Sse;
//! use sse_actors::Server;
//! use sse_proto::Event;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder().build();
//! server.create_stream("news").await?;
//! let sse = Sse::new(server.clone());
//! actix_web::rt::spawn(async move {
//!     server.publish("news", Event::data("hello")).await
//! });
//! HttpServer::new(move || App::new().service(sse.resource("/events")))
//!     .h1_allow_half_closed(false)
//!     .tcp_nodelay(true)
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//! # Ok(())
//! # }
//! ```

mod body;
mod config;
mod error;
mod handler;
mod latency;
mod limit;
mod listener;
mod multi_body;
pub(crate) mod request;
pub(crate) mod response;
mod resume_id;
mod stream_name;

pub use config::{SseConfig, StreamSource};
pub use error::SseError;
pub use handler::Sse;
pub use listener::listener;
pub use request::{
    LAST_EVENT_ID, LAST_EVENT_ID_PARAM, SubscribeParams, query_param, stream_name, stream_names,
    subscribe_params,
};
pub use response::{X_ACCEL_BUFFERING, event_stream_head};
pub use stream_name::{DEFAULT_MAX_STREAM_NAME_LEN, STREAM_NAME_PUNCTUATION, validate_stream_name};
