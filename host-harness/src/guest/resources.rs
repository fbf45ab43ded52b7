//! The host-side resources the WIT declares: their representations in the request's table.

use crate::backend::{AppError, Event, EventStream};

/// A `chunk-stream` resource: the backend's stream until it ends or fails.
pub struct HostChunkStream {
    pub(super) inner: Option<Box<dyn EventStream>>,
    /// The end or a failure met while batching, owed to the next call.
    pub(super) pending: Option<Result<Option<Event>, AppError>>,
}

impl HostChunkStream {
    /// The next item: one owed from a batch first, then the backend's; `None` once finished.
    pub(super) fn take_next(&mut self) -> Option<Result<Option<Event>, AppError>> {
        match self.pending.take() {
            Some(item) => Some(item),
            None => self.inner.as_mut().map(|inner| inner.next_event()),
        }
    }

    /// Release the upstream stream; whether it was still open.
    pub(super) fn finish(&mut self) -> bool {
        self.pending = None;
        self.inner.take().is_some()
    }
}

/// The `response-writer` resource. The writer's state lives in `PluginState::sink`: there is
/// exactly one per request.
pub struct HostResponseWriter;

/// The `message-writer` resource of a tool call. Like the response writer, its state is the
/// request's `PluginState::sink`.
pub struct HostMessageWriter;
