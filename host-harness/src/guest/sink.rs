//! The sending side of a request's response: what the `response-writer` writes goes here,
//! checked (head before body, the size limit) and counted, into the response channel.

use super::bindings::http::WriteError;
use crate::endpoint::{PluginFailure, RequestStats};
use crate::response::{Message, Outbox};

/// The writer end: enforces head-then-body and the body size limit.
pub(crate) struct ResponseSink {
    outbox: Box<dyn Outbox>,
    head_sent: bool,
    closed: bool,
    stats: RequestStats,
    max_bytes: u64,
}

impl ResponseSink {
    pub(crate) fn new(outbox: Box<dyn Outbox>, max_bytes: usize) -> Self {
        ResponseSink {
            outbox,
            head_sent: false,
            closed: false,
            stats: RequestStats::default(),
            max_bytes: max_bytes as u64,
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
        self.send(Message::Head(status, headers))
    }

    pub(crate) fn write(&mut self, bytes: Vec<u8>) -> Result<(), WriteError> {
        if !self.head_sent {
            return Err(WriteError::OutOfOrder);
        }
        self.stats.bytes += bytes.len() as u64;
        if self.stats.bytes > self.max_bytes {
            return Err(WriteError::TooLarge(format!(
                "the response body exceeds the host's limit of {} bytes",
                self.max_bytes
            )));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.stats.chunks += 1;
        self.send(Message::Chunk(bytes))
    }

    /// Report how the handler ended. Nobody may be listening any more; that is fine.
    pub(crate) fn end(mut self, result: Result<(), PluginFailure>, app_calls: u32, events: u64) {
        let stats = RequestStats {
            app_calls,
            events,
            ..self.stats
        };
        let _ = self.outbox.send(Message::End(result, stats));
    }
}
