//! An incremental `text/event-stream` parser following the HTML standard's rules: lines end
//! in CR, LF or CRLF (also when a CRLF is split across chunks), `data:` lines are joined
//! with `\n`, an event with no data is not dispatched (the priming event of 2025-11-25
//! resumability is an `id:` with empty data), comments are ignored, `retry:` is kept as a
//! hint, and an incomplete event at the end of the stream is discarded. Each byte is looked
//! at once, and what is held between chunks is bounded.

/// The default bound on buffered bytes (an unfinished line plus an undispatched event).
pub const MAX_BUFFER: usize = 8 * 1024 * 1024;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, `message` when absent or empty.
    pub event: String,
    pub data: String,
    /// The last event id seen on the stream, if any.
    pub id: Option<String>,
}

/// The stream grew past the buffer bound without completing an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub limit: usize,
}

#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    data: String,
    has_data: bool,
    event: String,
    last_id: Option<String>,
    retry: Option<u64>,
    after_cr: bool,
    started: bool,
    limit: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limit(MAX_BUFFER)
    }
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_limit(limit: usize) -> Self {
        SseParser {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            event: String::new(),
            last_id: None,
            retry: None,
            after_cr: false,
            started: false,
            limit,
        }
    }

    /// The server's reconnection hint from `retry:`, in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// The last event id seen.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Event>, TooLarge> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    start = i + 1;
                    continue;
                }
            }
            if b == b'\r' || b == b'\n' {
                self.line.extend_from_slice(&chunk[start..i]);
                // the whole line counts, however it arrived: a line that came in one chunk
                // is bounded like one that was buffered across chunks (found by fuzz/sse)
                self.check()?;
                let line = std::mem::take(&mut self.line);
                self.process(&line, &mut out);
                self.check()?;
                start = i + 1;
                self.after_cr = b == b'\r';
            }
        }
        self.line.extend_from_slice(&chunk[start..]);
        self.check()?;
        Ok(out)
    }

    fn check(&self) -> Result<(), TooLarge> {
        if self.line.len() + self.data.len() > self.limit {
            Err(TooLarge { limit: self.limit })
        } else {
            Ok(())
        }
    }

    fn process(&mut self, raw: &[u8], out: &mut Vec<Event>) {
        let mut raw = raw;
        if !self.started {
            self.started = true;
            raw = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw);
        }
        if raw.is_empty() {
            self.dispatch(out);
            return;
        }
        let line = crate::text::lossy(raw);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" if crate::text::is_digits(value) => {
                self.retry = crate::text::decimal(value);
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<Event>) {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        // An event whose data buffer is empty is not dispatched.
        if !std::mem::take(&mut self.has_data) || data.is_empty() {
            return;
        }
        out.push(Event {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        });
    }
}

/// The events of a whole `text/event-stream` body.
pub fn parse_body(body: &[u8]) -> Result<Vec<Event>, TooLarge> {
    SseParser::new().feed(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = SseParser::new();
        chunks.iter().flat_map(|c| p.feed(c).unwrap()).collect()
    }

    fn datas(evs: &[Event]) -> Vec<&str> {
        evs.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn every_line_ending() {
        for text in [
            "data: a\n\ndata: b\n\n",
            "data: a\r\n\r\ndata: b\r\n\r\n",
            "data: a\r\rdata: b\r\r",
            "data: a\r\n\ndata: b\n\r",
        ] {
            assert_eq!(datas(&all(&[text.as_bytes()])), ["a", "b"], "{text:?}");
        }
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        // were the LF read as a second line end, `x` would dispatch early and `y` alone
        let evs = all(&[b"data: x\r", b"\ndata: y\r", b"\n\r", b"\n"]);
        assert_eq!(datas(&evs), ["x\ny"]);
    }

    #[test]
    fn byte_by_byte_equals_whole() {
        let text = b"\xef\xbb\xbfevent: endpoint\r\ndata: /m?s=1\r\n\r\n: ping\n\nid: 7\ndata: {\"a\":\ndata: 1}\n\n";
        let whole = all(&[text]);
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(all(&bytes), whole);
        assert_eq!(whole[0].event, "endpoint");
        assert_eq!(whole[0].data, "/m?s=1");
        assert_eq!(whole[1].data, "{\"a\":\n1}");
        assert_eq!(whole[1].id.as_deref(), Some("7"));
    }

    #[test]
    fn priming_events_and_comments_are_not_dispatched() {
        let mut p = SseParser::new();
        let evs = p
            .feed(b"id: 0\ndata:\n\n: keep-alive\n\nretry: 1500\n\nevent: message\ndata: {}\n\n")
            .unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].data, "{}");
        assert_eq!(evs[0].id.as_deref(), Some("0"));
        assert_eq!(p.retry(), Some(1500));
        p.feed(b"retry: soon\n\n").unwrap();
        assert_eq!(p.retry(), Some(1500), "a non-numeric retry is ignored");
    }

    #[test]
    fn field_forms() {
        // no space after the colon, a field with no colon, an unknown field
        let evs = all(&[b"data:x\ndata\nfoo: bar\n\n"]);
        assert_eq!(datas(&evs), ["x\n"]);
        // an unfinished event at the end of the stream is dropped
        assert!(all(&[b"data: never finished\n"]).is_empty());
    }

    #[test]
    fn the_buffer_is_bounded() {
        let mut p = SseParser::with_limit(1024);
        assert!(p.feed(&[b'a'; 1000]).is_ok());
        assert_eq!(p.feed(&[b'a'; 100]), Err(TooLarge { limit: 1024 }));
        // many data lines without a blank line count too
        let mut p = SseParser::with_limit(1024);
        let line = b"data: 0123456789\n";
        let mut res = Ok(Vec::new());
        for _ in 0..100 {
            res = p.feed(line);
            if res.is_err() {
                break;
            }
        }
        assert!(res.is_err());
    }

    #[test]
    fn a_large_stream_in_small_chunks_is_linear() {
        // one 4 MiB event in 64 KiB chunks: a parser that rescans its buffer per chunk
        // would do ~130 GiB of work here instead of 4 MiB
        let mut p = SseParser::new();
        let payload = vec![b'x'; 4 * 1024 * 1024];
        let mut n = 0;
        n += p.feed(b"data: ").unwrap().len();
        for c in payload.chunks(65536) {
            n += p.feed(c).unwrap().len();
        }
        let evs = p.feed(b"\n\n").unwrap();
        assert_eq!(n, 0);
        assert_eq!(evs[0].data.len(), payload.len());
    }
}
