//! Just enough HTTP/1.1 for a load generator: loopback URL templates, a
//! response-head parser and a streaming chunked-body decoder.
//!
//! A full client (hyper, awc) would cost more per delivered event than the
//! servers under test spend producing it; this one reads straight from the
//! socket into the SSE decoder with no per-event allocation of its own.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Why a URL or an HTTP response was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(pub String);

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

fn err<T>(msg: impl Into<String>) -> Result<T, HttpError> {
    Err(HttpError(msg.into()))
}

/// A parsed `http://IP:PORT/path?query` URL whose path may hold a `{stream}`
/// placeholder.
///
/// Only loopback addresses are accepted: this tool generates load, and load
/// must never leave the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    /// The server address.
    pub addr: SocketAddr,
    /// The `Host` header value.
    pub host: String,
    /// Path and query, possibly with `{stream}` placeholders.
    pub path: String,
}

impl UrlTemplate {
    /// Parses `http://127.0.0.1:8080/events?stream={stream}`.
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let Some(rest) = url.strip_prefix("http://") else {
            return err(format!("{url}: only http:// URLs are supported"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| HttpError(format!("{url}: bad port")))?,
            ),
            None => (authority, 80),
        };
        let ip: IpAddr = match host {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            h => h
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| HttpError(format!("{url}: host must be an IP address")))?,
        };
        if !ip.is_loopback() {
            return err(format!("{url}: refusing a non-loopback target"));
        }
        Ok(UrlTemplate {
            addr: SocketAddr::new(ip, port),
            host: authority.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The path with `{stream}` replaced.
    pub fn path_for(&self, stream: &str) -> String {
        self.path.replace("{stream}", stream)
    }

    /// A complete `GET` request for an event stream.
    pub fn subscribe_request(&self, stream: &str) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
            self.path_for(stream),
            self.host
        )
        .into_bytes()
    }

    /// A complete keep-alive `POST` request carrying `body`.
    pub fn post_request(&self, stream: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut req = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            self.path_for(stream),
            self.host,
            content_type,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        req
    }
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length: n`.
    Length(u64),
    /// Until the server closes the connection.
    UntilClose,
}

/// The parts of a response head the tool needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// How the body is framed.
    pub body: BodyKind,
    /// The `Content-Type` header, lowercased, if any.
    pub content_type: Option<String>,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// Parses a response head if `buf` holds a complete one, returning it and its
/// length in bytes (the body starts there).
pub fn parse_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, HttpError> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            return err("response head larger than 64 KiB");
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return err(format!("not an HTTP/1 response: {status_line:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError(format!("bad status line {status_line:?}")))?;
    let mut body = BodyKind::UntilClose;
    let mut content_type = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            body = BodyKind::Chunked;
        } else if name.eq_ignore_ascii_case("content-length") && body != BodyKind::Chunked {
            let n = value
                .parse()
                .map_err(|_| HttpError(format!("bad Content-Length {value:?}")))?;
            body = BodyKind::Length(n);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_ascii_lowercase());
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            close = value.contains("close") || (close && !value.contains("keep-alive"));
        }
    }
    // 1xx, 204 and 304 responses have no body whatever the headers say.
    if status < 200 || status == 204 || status == 304 {
        body = BodyKind::Length(0);
    }
    Ok(Some((
        ResponseHead {
            status,
            body,
            content_type,
            close,
        },
        end + 4,
    )))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size; `ext` once past a `;` extension marker.
    Size {
        size: u64,
        digits: u8,
        ext: bool,
    },
    /// Saw CR after the size line.
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// After the last chunk: skip trailers up to an empty line.
    Trailer {
        line_len: usize,
    },
    Done,
}

/// A push decoder for a body framed by [`BodyKind`]: feed it socket reads and
/// it hands the payload bytes, unframed, to a callback.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    kind: BodyKind,
    remaining: u64,
    chunk: ChunkState,
}

impl BodyDecoder {
    /// A decoder for a body of this kind.
    pub fn new(kind: BodyKind) -> Self {
        let remaining = match kind {
            BodyKind::Length(n) => n,
            _ => 0,
        };
        BodyDecoder {
            kind,
            remaining,
            chunk: ChunkState::Size {
                size: 0,
                digits: 0,
                ext: false,
            },
        }
    }

    /// Whether the body is complete (more input would be an error).
    pub fn is_done(&self) -> bool {
        match self.kind {
            BodyKind::Chunked => self.chunk == ChunkState::Done,
            BodyKind::Length(_) => self.remaining == 0,
            BodyKind::UntilClose => false,
        }
    }

    /// Decodes `input`, passing payload slices to `out` in order; bytes past
    /// the end of the body are an error.
    pub fn feed(&mut self, input: &[u8], out: impl FnMut(&[u8])) -> Result<(), HttpError> {
        if self.feed_some(input, out)? < input.len() {
            return err("bytes after the end of the body");
        }
        Ok(())
    }

    /// Decodes `input` up to the end of the body at most, returning how many
    /// bytes were consumed: the rest belongs to the next (pipelined) response.
    pub fn feed_some(
        &mut self,
        mut input: &[u8],
        mut out: impl FnMut(&[u8]),
    ) -> Result<usize, HttpError> {
        let total = input.len();
        match self.kind {
            BodyKind::UntilClose => {
                out(input);
                return Ok(total);
            }
            BodyKind::Length(_) => {
                let take = input
                    .len()
                    .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                out(&input[..take]);
                self.remaining -= take as u64;
                return Ok(take);
            }
            BodyKind::Chunked => {}
        }
        while !input.is_empty() {
            match &mut self.chunk {
                ChunkState::Data(left) => {
                    let take = input
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    out(&input[..take]);
                    input = &input[take..];
                    *left -= take as u64;
                    if *left == 0 {
                        self.chunk = ChunkState::DataCr;
                    }
                    continue;
                }
                ChunkState::Done => return Ok(total - input.len()),
                _ => {}
            }
            let byte = input[0];
            input = &input[1..];
            self.chunk = match (self.chunk, byte) {
                (ChunkState::Size { size, digits, ext }, b'\r') => {
                    let _ = ext;
                    if digits == 0 {
                        return err("empty chunk size");
                    }
                    ChunkState::SizeLf { size }
                }
                (ChunkState::Size { size, digits, .. }, b'\n') if digits > 0 => {
                    Self::after_size(size)
                }
                (
                    ChunkState::Size {
                        size,
                        digits,
                        ext: false,
                    },
                    b,
                ) if b.is_ascii_hexdigit() => {
                    if digits >= 15 {
                        return err("chunk size too large");
                    }
                    let d = (b as char).to_digit(16).unwrap_or(0);
                    ChunkState::Size {
                        size: size * 16 + u64::from(d),
                        digits: digits + 1,
                        ext: false,
                    }
                }
                (ChunkState::Size { size, digits, .. }, _) if digits > 0 => ChunkState::Size {
                    size,
                    digits,
                    ext: true,
                },
                (ChunkState::SizeLf { size }, b'\n') => Self::after_size(size),
                (ChunkState::DataCr, b'\r') => ChunkState::DataLf,
                (ChunkState::DataCr | ChunkState::DataLf, b'\n') => ChunkState::Size {
                    size: 0,
                    digits: 0,
                    ext: false,
                },
                (ChunkState::Trailer { line_len }, b'\n') => {
                    if line_len == 0 {
                        ChunkState::Done
                    } else {
                        ChunkState::Trailer { line_len: 0 }
                    }
                }
                (ChunkState::Trailer { line_len }, b'\r') => ChunkState::Trailer { line_len },
                (ChunkState::Trailer { line_len }, _) => ChunkState::Trailer {
                    line_len: line_len + 1,
                },
                (state, b) => {
                    return err(format!("bad chunked framing: byte {b:#04x} in {state:?}"));
                }
            };
        }
        Ok(total)
    }

    fn after_size(size: u64) -> ChunkState {
        if size == 0 {
            ChunkState::Trailer { line_len: 0 }
        } else {
            ChunkState::Data(size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(kind: BodyKind, wire: &[u8], step: usize) -> (Vec<u8>, bool) {
        let mut d = BodyDecoder::new(kind);
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            d.feed(piece, |b| out.extend_from_slice(b)).unwrap();
        }
        (out, d.is_done())
    }

    #[test]
    fn chunked_any_split() {
        let wire = b"5\r\nhello\r\n1;ext=1\r\n \r\nB\r\nworld\nagain\r\n0\r\nX-T: 1\r\n\r\n";
        for step in 1..wire.len() {
            let (out, done) = decode_split(BodyKind::Chunked, wire, step);
            assert_eq!(out, b"hello world\nagain", "step {step}");
            assert!(done);
        }
    }

    #[test]
    fn pipelined_bodies_split_where_they_end() {
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        assert_eq!(d.feed_some(b"2\r\nok\r\n0\r\n\r\nHTTP/1.1", |_| {}), Ok(12));
        let mut d = BodyDecoder::new(BodyKind::Length(2));
        assert_eq!(d.feed_some(b"okHTTP", |_| {}), Ok(2));
        assert!(d.is_done());
    }

    #[test]
    fn chunked_rejects_garbage() {
        let mut d = BodyDecoder::new(BodyKind::Chunked);
        assert!(d.feed(b"zz\r\n", |_| {}).is_err());
    }

    #[test]
    fn head_parsing() {
        let wire = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nrest";
        let (head, len) = parse_head(wire).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.body, BodyKind::Chunked);
        assert_eq!(head.content_type.as_deref(), Some("text/event-stream"));
        assert_eq!(&wire[len..], b"rest");
        assert_eq!(parse_head(&wire[..20]).unwrap(), None);
    }

    #[test]
    fn urls_are_loopback_only() {
        let t = UrlTemplate::parse("http://127.0.0.1:8080/events?stream={stream}").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.path_for("s1"), "/events?stream=s1");
        assert!(UrlTemplate::parse("http://10.0.0.1:80/").is_err());
        assert!(UrlTemplate::parse("https://127.0.0.1/").is_err());
    }
}
