//! Listening sockets whose connections end when the peer stops reading.
//!
//! An event stream never ends by itself, so a client that stops reading
//! (a suspended laptop, a wedged proxy, a hostile peer with a tiny receive
//! window) would keep its connection, and whatever its socket and queue
//! hold, for ever. actix-http has no write timeout, and it stops polling a
//! response body while the socket is full, so nothing in the body can
//! notice. The kernel can: `TCP_USER_TIMEOUT` aborts a connection whose
//! sent data stays unacknowledged, or unsent behind a zero window, for
//! longer than the timeout (Linux 5.11 and later for the zero window).
//! Accepted sockets inherit it from the listening one.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// A listening TCP socket on `addr` for [`actix_web::HttpServer::listen`]
/// (or `listen_rustls_0_23`), with room for `backlog` pending connections,
/// whose connections end when their socket accepts nothing for
/// `write_timeout`: the client read nothing (or nothing was acknowledged)
/// for that long although data waited. Connections with nothing to send
/// are not affected; keep-alive comments give every stalled one something
/// to send. `None` or zero: no write timeout (the system's retransmission
/// limits only, which ignore a zero window).
///
/// The timeout is Linux's `TCP_USER_TIMEOUT`; elsewhere a `Some` timeout
/// fails with [`io::ErrorKind::Unsupported`].
///
/// ```no_run
/// use std::time::Duration;
/// use actix_web::{App, HttpServer};
/// use sse_actix::server::{Sse, listener};
///
/// # async fn run(sse: Sse) -> std::io::Result<()> {
/// let socket = listener("127.0.0.1:8080".parse().unwrap(), 4096, Some(Duration::from_secs(30)))?;
/// HttpServer::new(move || App::new().service(sse.resource("/events")))
///     .listen(socket)?
///     .run()
///     .await
/// # }
/// ```
pub fn listener(
    addr: SocketAddr,
    backlog: u32,
    write_timeout: Option<Duration>,
) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As actix-server binds: a restarted server may bind at once.
    socket.set_reuse_address(true)?;
    if let Some(timeout) = write_timeout.filter(|t| !t.is_zero()) {
        set_write_timeout(&socket, timeout)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_write_timeout(socket: &Socket, timeout: Duration) -> io::Result<()> {
    socket.set_tcp_user_timeout(Some(timeout))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_write_timeout(_socket: &Socket, _timeout: Duration) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "a write timeout needs TCP_USER_TIMEOUT (Linux)",
    ))
}
