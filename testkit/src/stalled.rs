//! A client that stops reading: what slow-subscriber and write-timeout
//! tests connect with.

use std::net::SocketAddr;

use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::GUARD;

/// Connects to `addr` with a 4 KiB receive buffer, sends `GET path`, reads
/// the response head (asserting a 200), then reads nothing more: once the
/// socket buffers fill, the server's writes stall.
pub async fn stalled_client(addr: SocketAddr, path: &str) -> TcpStream {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut stream = TcpStream::from_std(socket.into()).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0; 512];
    let read = tokio::time::timeout(GUARD, stream.read(&mut head))
        .await
        .expect("the response head")
        .unwrap();
    assert!(
        head[..read].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &head[..read]
    );
    stream
}
