//! The channel between a plugin's instance and whoever reads its response, and the one reader
//! of it.
//!
//! The instance's [`ResponseSink`](crate::guest::writer::ResponseSink) sends [`Message`]s into
//! an [`Outbox`]: a head, body chunks, then the end (the handler's result and the request's
//! stats). Every front end reads them with [`first`] and [`next`] (the request API's
//! `EndpointResponse`, the HTTP server's body), so the order rules and their error texts live
//! here once.

use std::sync::mpsc::SyncSender;

use crate::endpoint::{PluginFailure, RequestStats};

/// What travels from the plugin's thread to the reader.
pub(crate) enum Message {
    Head(u16, Vec<(String, String)>),
    Chunk(Vec<u8>),
    End(Result<(), PluginFailure>, RequestStats),
}

/// Where the plugin's thread sends its messages: a bounded channel to whoever reads the
/// response. `Err` means the reader has gone away.
pub(crate) trait Outbox: Send + 'static {
    fn send(&mut self, msg: Message) -> Result<(), ()>;
}

impl Outbox for SyncSender<Message> {
    fn send(&mut self, msg: Message) -> Result<(), ()> {
        SyncSender::send(self, msg).map_err(drop)
    }
}

/// Unbounded: for a response buffered whole ([`crate::Plugin::request_inline`]).
impl Outbox for std::sync::mpsc::Sender<Message> {
    fn send(&mut self, msg: Message) -> Result<(), ()> {
        std::sync::mpsc::Sender::send(self, msg).map_err(drop)
    }
}

/// What the first message says.
pub(crate) enum Start {
    /// The plugin sent its head; the body follows.
    Head(u16, Vec<(String, String)>),
    /// The request ended before any head: `Ok` means an empty 200.
    Ended(Result<(), PluginFailure>, Option<RequestStats>),
}

/// Read the first message (`None`: the channel closed).
pub(crate) fn first(msg: Option<Message>) -> Start {
    match msg {
        Some(Message::Head(status, headers)) => Start::Head(status, headers),
        Some(Message::End(result, stats)) => Start::Ended(result, Some(stats)),
        Some(Message::Chunk(_)) => Start::Ended(
            Err(PluginFailure::Host(
                "the plugin wrote a body before its head".into(),
            )),
            None,
        ),
        None => Start::Ended(
            Err(PluginFailure::Host(
                "the plugin's thread ended without an answer".into(),
            )),
            None,
        ),
    }
}

/// What a message after the head says.
pub(crate) enum Body {
    /// A piece of the body.
    Chunk(Vec<u8>),
    /// The end: `Err` means the body is cut.
    End(Result<(), PluginFailure>, Option<RequestStats>),
}

/// Read a message after the head (`None`: the channel closed).
pub(crate) fn next(msg: Option<Message>) -> Body {
    match msg {
        Some(Message::Chunk(bytes)) => Body::Chunk(bytes),
        Some(Message::End(result, stats)) => Body::End(result, Some(stats)),
        Some(Message::Head(..)) => Body::End(
            Err(PluginFailure::Host("the plugin sent a second head".into())),
            None,
        ),
        None => Body::End(
            Err(PluginFailure::Host(
                "the plugin's thread ended without finishing the body".into(),
            )),
            None,
        ),
    }
}
