//! The sending side of a request's response: what the `response-writer` writes goes here,
//! checked and counted, into the response channel. Every front end gets the same guarantees:
//!
//! - the head comes first and once, and is one the host may send: a status from 200 to 599
//!   (no 1xx, whose meaning the host owns), at most [`MAX_HEADERS`] headers of at most
//!   [`MAX_HEAD_BYTES`] in all, valid names and values. The framing and hop-by-hop headers
//!   (`content-length`, `transfer-encoding`, `connection`, ...) are the host's: dropped from the
//!   plugin's head, since the host frames the body itself. A refused head fails the request
//!   with a 500 that says why;
//! - the body is sent in pieces of at most [`PIECE`] bytes, so the channel's bound in pieces
//!   (`Limits::response_buffer`) is a bound in bytes; in all at most `Limits::response_bytes`.

use super::bindings::http::WriteError;
use crate::endpoint::{PluginFailure, RequestStats};
use crate::response::{Message, Outbox};

/// The most headers a plugin's head may have.
pub(crate) const MAX_HEADERS: usize = 100;
/// The most bytes of header names and values a plugin's head may have.
pub(crate) const MAX_HEAD_BYTES: usize = 64 << 10;
/// The largest body piece put in the channel.
pub(crate) const PIECE: usize = 64 << 10;

/// Headers the host owns: framing and hop-by-hop (RFC 9110 §7.6.1).
const HOST_OWNED: [&str; 8] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The writer end: enforces head-then-body and the limits.
pub(crate) struct ResponseSink {
    outbox: Box<dyn Outbox>,
    head_sent: bool,
    closed: bool,
    stats: RequestStats,
    max_bytes: u64,
    /// Why the request must fail whatever the handler returns (a refused head).
    failure: Option<PluginFailure>,
}

impl ResponseSink {
    pub(crate) fn new(outbox: Box<dyn Outbox>, max_bytes: usize) -> Self {
        ResponseSink {
            outbox,
            head_sent: false,
            closed: false,
            stats: RequestStats::default(),
            max_bytes: max_bytes as u64,
            failure: None,
        }
    }

    fn send(&mut self, msg: Message) -> Result<(), WriteError> {
        if self.closed || self.outbox.send(msg).is_err() {
            self.closed = true;
            return Err(WriteError::Closed);
        }
        Ok(())
    }

    pub(crate) fn send_head(
        &mut self,
        status: u16,
        headers: Vec<(String, String)>,
    ) -> Result<(), WriteError> {
        if self.head_sent {
            return Err(WriteError::OutOfOrder);
        }
        self.head_sent = true;
        match checked_head(status, headers) {
            Ok(headers) => self.send(Message::Head(status, headers)),
            Err(reason) => {
                // Nothing was sent: the reader gets a 500 with the reason at the end.
                self.failure = Some(PluginFailure::BadHead(reason));
                self.closed = true;
                Err(WriteError::Closed)
            }
        }
    }

    pub(crate) fn write(&mut self, bytes: Vec<u8>) -> Result<(), WriteError> {
        if !self.head_sent {
            return Err(WriteError::OutOfOrder);
        }
        self.count(bytes.len(), "the response body exceeds")?;
        if bytes.is_empty() {
            return Ok(());
        }
        self.stats.chunks += 1;
        if bytes.len() <= PIECE {
            return self.send(Message::Chunk(bytes));
        }
        for piece in bytes.chunks(PIECE) {
            self.send(Message::Chunk(piece.to_vec()))?;
        }
        Ok(())
    }

    /// Send one whole message of a tool (its JSON for the daemon, never split: each is one
    /// line there). A tool call has no head; the size limit is the body's.
    pub(crate) fn message(&mut self, bytes: Vec<u8>) -> Result<(), WriteError> {
        self.count(bytes.len(), "the tool's messages exceed")?;
        self.stats.chunks += 1;
        self.send(Message::Chunk(bytes))
    }

    /// Count `len` more bytes of the answer, refusing them past the limit (`what` exceeds it).
    fn count(&mut self, len: usize, what: &str) -> Result<(), WriteError> {
        self.stats.bytes += len as u64;
        if self.stats.bytes > self.max_bytes {
            return Err(WriteError::TooLarge(format!(
                "{what} the host's limit of {} bytes",
                self.max_bytes
            )));
        }
        Ok(())
    }

    /// Report how the handler ended. Nobody may be listening any more; that is fine.
    pub(crate) fn end(&mut self, result: Result<(), PluginFailure>, app_calls: u32, events: u64) {
        let stats = RequestStats {
            app_calls,
            events,
            ..self.stats
        };
        let result = match self.failure.take() {
            Some(failure) => Err(failure),
            None => result,
        };
        let _ = self.outbox.send(Message::End(result, stats));
    }
}

/// The head as the host will send it, or why it cannot be sent.
fn checked_head(
    status: u16,
    headers: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, String> {
    if !(200..=599).contains(&status) {
        return Err(format!(
            "status {status}: a plugin answers with a status from 200 to 599"
        ));
    }
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers: at most {MAX_HEADERS} are allowed",
            headers.len()
        ));
    }
    let size: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if size > MAX_HEAD_BYTES {
        return Err(format!(
            "{size} bytes of headers: at most {MAX_HEAD_BYTES} are allowed"
        ));
    }
    let mut kept = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token) {
            return Err(format!("the header name {name:?} is not an HTTP token"));
        }
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(format!(
                "the value of header '{name}' has control characters"
            ));
        }
        if !HOST_OWNED
            .iter()
            .any(|owned| name.eq_ignore_ascii_case(owned))
        {
            kept.push((name, value));
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        checked_head(status, headers)
    }

    #[test]
    fn heads_are_checked_and_framing_headers_are_the_hosts() {
        assert_eq!(
            head(
                200,
                &[("content-type", "text/plain"), ("Content-Length", "3")]
            ),
            Ok(vec![("content-type".into(), "text/plain".into())])
        );
        assert!(
            head(200, &[("transfer-encoding", "gzip")])
                .unwrap()
                .is_empty()
        );
        for status in [100, 101, 199, 600, 0] {
            assert!(
                head(status, &[])
                    .unwrap_err()
                    .starts_with(&format!("status {status}"))
            );
        }
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|i| (format!("x-{i}"), String::new()))
            .collect();
        assert_eq!(
            checked_head(200, many).unwrap_err(),
            "101 headers: at most 100 are allowed"
        );
        let big = "a".repeat(MAX_HEAD_BYTES);
        assert!(
            head(200, &[("x", &big)])
                .unwrap_err()
                .contains("bytes of headers")
        );
        assert!(head(200, &[("bad name", "v")]).is_err());
        assert!(head(200, &[("x", "line\r\nbreak")]).is_err());
    }
}
