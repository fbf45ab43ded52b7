//! Server-Sent Events, parsed incrementally, as the Service API streams them.
//!
//! Dify's Service API writes `data: {json}\n\n` per event and `event: ping\n\n` as keep-alive
//! (reference §4.7). The parser follows the SSE format: lines end in `\n`, `\r\n` or `\r`; a
//! blank line ends an event; `data:` lines of one event are joined with `\n`; lines starting
//! with `:` are comments; one space after the colon is dropped. Pings and comments never
//! reach the plugin.

/// One dispatched event: its `event:` type (empty if none) and its joined `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or empty.
    pub kind: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Collects bytes and hands out complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    start: usize,
    kind: String,
    data: Vec<String>,
    /// The previous line ended with `\r`: a following `\n` belongs to it.
    after_cr: bool,
    max_event: usize,
}

/// Why the stream is not valid SSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// A line is not UTF-8.
    NotUtf8,
    /// An event grew beyond the limit without ending.
    TooLarge(usize),
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::NotUtf8 => f.write_str("the event stream is not UTF-8"),
            SseError::TooLarge(max) => write!(f, "an event exceeds the limit of {max} bytes"),
        }
    }
}

impl std::error::Error for SseError {}

impl SseParser {
    /// A parser refusing events larger than `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        SseParser {
            max_event,
            ..Default::default()
        }
    }

    /// Add bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event (pings included; the caller decides), or `Ok(None)` if more
    /// bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            let pending = &self.buf[self.start..];
            if self.after_cr && pending.first() == Some(&b'\n') {
                self.start += 1;
                self.after_cr = false;
                continue;
            }
            let Some(end) = pending.iter().position(|&b| b == b'\n' || b == b'\r') else {
                let held = pending.len() + self.data.iter().map(String::len).sum::<usize>();
                if held > self.max_event {
                    return Err(SseError::TooLarge(self.max_event));
                }
                return Ok(None);
            };
            self.after_cr = pending[end] == b'\r';
            let line = std::str::from_utf8(&pending[..end])
                .map_err(|_| SseError::NotUtf8)?
                .to_owned();
            self.start += end + 1;
            if line.is_empty() {
                if self.data.is_empty() {
                    self.kind.clear();
                    continue;
                }
                let event = SseEvent {
                    kind: std::mem::take(&mut self.kind),
                    data: std::mem::take(&mut self.data).join("\n"),
                };
                return Ok(Some(event));
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => self.data.push(value.to_owned()),
                "event" => {
                    self.kind = value.to_owned();
                    // `event: ping` with no data is a whole event in Dify's streams.
                    if self.data.is_empty() && value == "ping" {
                        continue;
                    }
                }
                _ => {}
            }
        }
    }

    /// Call at the end of the stream: an event without its blank line is still delivered,
    /// as browsers do not, but Dify's last event always ends properly, so report it.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::str::from_utf8(&self.buf[self.start..])
            .ok()?
            .to_owned();
        if let Some(value) = rest.strip_prefix("data:") {
            self.data
                .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
        self.buf.clear();
        self.start = 0;
        (!self.data.is_empty()).then(|| SseEvent {
            kind: std::mem::take(&mut self.kind),
            data: std::mem::take(&mut self.data).join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<SseEvent> {
        let mut parser = SseParser::new(1 << 20);
        parser.push(text.as_bytes());
        let mut events = Vec::new();
        while let Some(e) = parser.next_event().unwrap() {
            events.push(e);
        }
        events.extend(parser.finish());
        events
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events
            .iter()
            .filter(|e| e.kind != "ping")
            .map(|e| e.data.as_str())
            .collect()
    }

    #[test]
    fn pings_comments_and_line_endings() {
        let events = parse(
            "event: ping\n\n: a comment\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\r\rdata: x\n\n",
        );
        assert_eq!(data(&events), ["{\"a\":1}", "{\"b\":2}", "x"]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        assert_eq!(data(&parse("data: {\"a\":\ndata: 1}\n\n")), ["{\"a\":\n1}"]);
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let text = "event: ping\n\ndata: {\"event\":\"message\",\"answer\":\"héllo\"}\r\n\r\ndata: {\"event\":\"message_end\"}\n\n";
        let whole = parse(text);
        let bytes = text.as_bytes();
        for split in 0..bytes.len() {
            let mut parser = SseParser::new(1 << 20);
            let mut events = Vec::new();
            for part in [&bytes[..split], &bytes[split..]] {
                parser.push(part);
                while let Some(e) = parser.next_event().unwrap() {
                    events.push(e);
                }
            }
            assert_eq!(events, whole, "split at {split}");
        }
    }

    proptest::proptest! {
        /// The fuzz target's property (`fuzz/fuzz_targets/sse.rs`), bounded: a stream of
        /// events, with pings, comments and any line endings, cut anywhere, gives its events.
        #[test]
        fn events_survive_any_line_ending_and_any_cut(
            events in proptest::collection::vec("[a-z0-9 {}\":,]{0,30}", 1..6),
            endings in proptest::collection::vec(0usize..3, 12),
            split in 0usize..1024,
        ) {
            let mut text = String::from("event: ping\n\n: comment\n");
            for (i, data) in events.iter().enumerate() {
                let end = ["\n", "\r\n", "\r"][endings[i % endings.len()]];
                text.push_str(&format!("data: {data}{end}{end}"));
            }
            let bytes = text.as_bytes();
            let split = split % (bytes.len() + 1);
            let mut parser = SseParser::new(1 << 16);
            let mut got = Vec::new();
            for part in [&bytes[..split], &bytes[split..]] {
                parser.push(part);
                while let Some(e) = parser.next_event().unwrap() {
                    got.push(e);
                }
            }
            got.extend(parser.finish());
            let data: Vec<&str> = got.iter().filter(|e| e.kind != "ping").map(|e| e.data.as_str()).collect();
            let expected: Vec<&str> = events.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(data, expected);
        }
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut parser = SseParser::new(10);
        parser.push(b"data: 0123456789abcdef");
        assert_eq!(parser.next_event(), Err(SseError::TooLarge(10)));
    }
}
