//! The codec outside actix: a tiny HTTP/1.1 event-stream server on a
//! `std::net::TcpListener` writing with [`Encoder`], and a client on a
//! `std::net::TcpStream` reading with [`EventReader`]. Both run in this
//! process, on 127.0.0.1 with an OS-chosen port; it prints what the client
//! receives and exits.
//!
//! ```text
//! cargo run -p sse-proto --example tcp --features std-io
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use sse_proto::{Decoder, Encoder, Event, EventReader, Frame};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("serving on http://{addr}/events");

    let server = thread::spawn(move || -> Result<()> {
        let (stream, _) = listener.accept()?;
        serve(stream)
    });

    let client = TcpStream::connect(addr)?;
    // The example must end by itself even if the server misbehaves.
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    listen(client, &addr.to_string())?;

    server.join().expect("server thread panicked")?;
    Ok(())
}

/// Answers one request with an event stream, then closes the connection.
fn serve(stream: TcpStream) -> Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }

    let mut out = stream;
    // No Content-Length: the body runs until the server closes the
    // connection, which is what an event stream is.
    out.write_all(
        b"HTTP/1.1 200 OK\r\n\
          Content-Type: text/event-stream\r\n\
          Cache-Control: no-cache\r\n\
          Connection: close\r\n\r\n",
    )?;

    let encoder = Encoder::new();
    out.write_all(&Encoder::retry(Duration::from_secs(3)))?;
    let events = [
        Event::data("hello").id("1"),
        Event::new("update", "line one\nline two").id("2"),
        Event::new("update", "no id: the client keeps the last one"),
    ];
    for event in &events {
        out.write_all(&Encoder::comment("keep-alive"))?;
        // Each event is encoded once into `Bytes`; a real server would share
        // that buffer between all its subscribers.
        out.write_all(&encoder.encode(event)?)?;
        out.flush()?;
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Sends a GET, checks the response head, then prints every frame.
fn listen(stream: TcpStream, host: &str) -> Result<()> {
    let mut request = stream.try_clone()?;
    write!(
        request,
        "GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )?;

    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected status line {status:?}").into());
    }
    let mut event_stream = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            event_stream |= name.eq_ignore_ascii_case("content-type")
                && value.trim().starts_with("text/event-stream");
        }
    }
    if !event_stream {
        return Err("the response is not text/event-stream".into());
    }

    // The `BufReader` may already hold the first bytes of the body, so the
    // event reader reads through it rather than from the socket.
    let mut events = EventReader::with_decoder(reader, Decoder::new().with_comments(true));
    for frame in events.by_ref() {
        match frame? {
            Frame::Event(event) => println!(
                "event type={:?} id={:?} data={:?}",
                event.event_type(),
                event.id.as_deref().unwrap_or(""),
                &*event.data
            ),
            Frame::Retry(retry) => println!("retry {} ms", retry.as_millis()),
            Frame::Comment(text) => println!("comment {:?}", &*text),
        }
    }
    println!(
        "stream ended; a reconnection would send Last-Event-ID: {}",
        events.decoder().last_event_id()
    );
    Ok(())
}
