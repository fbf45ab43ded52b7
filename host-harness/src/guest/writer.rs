//! `response-writer`: the plugin's response, head then body, into the request's channel.

use wasmtime::component::Resource;

use super::{PluginState, http};
use crate::endpoint::{PluginFailure, RequestStats};
use crate::response::{Message, Outbox};
use http::WriteError;

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

/// The `response-writer` resource. The writer's state lives in [`PluginState::sink`]: there is
/// exactly one per request.
pub struct HostResponseWriter;

impl http::Host for PluginState {}

impl http::HostResponseWriter for PluginState {
    fn send_head(
        &mut self,
        _: Resource<HostResponseWriter>,
        head: http::ResponseHead,
    ) -> wasmtime::Result<Result<(), WriteError>> {
        Ok(self.blocking_call(|state| state.sink.send_head(head.status, head.headers)))
    }

    fn write(
        &mut self,
        _: Resource<HostResponseWriter>,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<(), WriteError>> {
        Ok(self.blocking_call(|state| state.sink.write(bytes)))
    }

    fn drop(&mut self, writer: Resource<HostResponseWriter>) -> wasmtime::Result<()> {
        self.table.delete(writer)?;
        Ok(())
    }
}
