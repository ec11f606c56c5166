//! The I/O adapters: `EventReader` (feature `std-io`) and `SseCodec`
//! (feature `tokio-util`).

#[cfg(feature = "std-io")]
mod event_reader {
    use std::io::{self, Read};

    use sse_proto::{DecodeError, Decoder, Event, EventReader, Frame, ReadError};

    /// A reader that hands out its input a few bytes at a time, interrupted
    /// before every read, and then fails or ends.
    struct Trickle {
        input: Vec<u8>,
        at: usize,
        step: usize,
        interrupt: bool,
        fail_at_end: bool,
    }

    impl Trickle {
        fn new(input: &[u8], step: usize) -> Self {
            Trickle {
                input: input.to_vec(),
                at: 0,
                step,
                interrupt: false,
                fail_at_end: false,
            }
        }
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.at == self.input.len() && self.fail_at_end {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"));
            }
            let n = self.step.min(buf.len()).min(self.input.len() - self.at);
            buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn reads_frames_across_small_interrupted_reads() {
        let input = b"\xEF\xBB\xBFretry: 5\r\nid: 1\r\ndata: a\r\n\r\ndata: b\r\rdata: never";
        let reader = EventReader::new(Trickle::new(input, 3));
        let frames: Vec<Frame> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(
            frames,
            [
                Frame::Retry(std::time::Duration::from_millis(5)),
                Frame::Event(
                    Event::data("a")
                        .id("1")
                        .retry(std::time::Duration::from_millis(5))
                ),
                Frame::Event(Event::data("b").id("1")),
            ]
        );
    }

    #[test]
    fn io_error_is_reported_then_the_reader_ends() {
        let mut trickle = Trickle::new(b"data: a\n\ndata: b\n", 64);
        trickle.fail_at_end = true;
        let mut reader = EventReader::new(trickle);
        assert!(matches!(reader.next(), Some(Ok(Frame::Event(e))) if e.data == "a"));
        let err = reader.next().unwrap().unwrap_err();
        assert!(matches!(&err, ReadError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset));
        assert_eq!(err.to_string(), "reading the event stream failed: gone");
        assert!(reader.next().is_none());
        // The incomplete event was discarded; the decoder is ready for a
        // reconnection with its last event ID.
        let (_, decoder) = reader.into_parts();
        assert_eq!(decoder.buffered_len(), 0);
    }

    #[test]
    fn decode_errors_are_reported_and_reading_goes_on() {
        let input = b"data: far too long\n\ndata: ok\n\n";
        let reader = EventReader::with_decoder(&input[..], Decoder::new().with_max_line_length(8));
        let out: Vec<_> = reader.map(|r| r.map_err(|e| e.to_string())).collect();
        assert_eq!(
            out,
            [
                Err(DecodeError::LineTooLong { limit: 8 }.to_string()),
                Ok(Frame::Event(Event::data("ok")))
            ]
        );
    }

    #[test]
    fn decoder_exposes_the_last_event_id() {
        let mut reader = EventReader::new(&b"id: 5\ndata: a\n\n"[..]);
        reader.by_ref().for_each(drop);
        assert_eq!(reader.decoder().last_event_id(), "5");
    }
}

#[cfg(feature = "tokio-util")]
mod codec {
    use bytes::BytesMut;
    use futures::StreamExt as _;
    use sse_proto::{CodecError, DecodeError, Decoder, EncodeError, Event, Frame, SseCodec};
    use tokio_util::codec::{Decoder as _, Encoder as _, FramedRead};

    #[test]
    fn framed_read_goes_on_after_a_line_over_the_limit() {
        let wire = format!("data: {}\n\ndata: after\n\n", "x".repeat(100));
        let codec = SseCodec::new(
            Decoder::new().with_max_line_length(32),
            sse_proto::Encoder::new(),
        );
        let items: Vec<_> =
            futures::executor::block_on(FramedRead::new(wire.as_bytes(), codec).collect());
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(
            matches!(items[0], Ok(Err(DecodeError::LineTooLong { .. }))),
            "{items:?}"
        );
        assert_eq!(
            items[1].as_ref().unwrap(),
            &Ok(Frame::Event(Event::data("after")))
        );
    }

    #[test]
    fn decodes_chunks_and_discards_incomplete_event_at_eof() {
        let mut codec = SseCodec::default();
        let mut src = BytesMut::from(&b"id: 1\ndata: a"[..]);
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert!(src.is_empty(), "the codec takes ownership of fed bytes");
        src.extend_from_slice(b"\n\ndata: b");
        assert_eq!(
            codec.decode(&mut src).unwrap(),
            Some(Ok(Frame::Event(Event::data("a").id("1"))))
        );
        assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
        assert_eq!(codec.decoder().last_event_id(), "1");
        assert_eq!(codec.decoder().buffered_len(), 0);
    }

    #[test]
    fn encodes_events_and_frames_and_reports_rejections() {
        let mut codec = SseCodec::new(Decoder::new(), sse_proto::Encoder::new());
        let mut dst = BytesMut::new();
        codec.encode(Event::data("x"), &mut dst).unwrap();
        codec.encode(Frame::Comment("c".into()), &mut dst).unwrap();
        assert_eq!(&dst[..], b"data: x\n\n: c\n");
        let err = codec
            .encode(Event::data("x").id("\n"), &mut dst)
            .unwrap_err();
        assert!(matches!(
            err,
            CodecError::Encode(EncodeError::InvalidId { .. })
        ));
        assert_eq!(&dst[..], b"data: x\n\n: c\n");
    }
}
