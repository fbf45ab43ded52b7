//! The channel between a plugin's instance and whoever reads its response, and the one reader
//! of it.
//!
//! The instance's `ResponseSink` (`guest/sink.rs`) sends `Message`s into
//! an `Outbox`: a head, body chunks, then the end (the handler's result and the request's
//! stats). Every front end reads them with `first` and `next` (the request API's
//! `EndpointResponse`, the HTTP server's body), so the order rules and their error texts live
//! here once.

use std::fmt;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};

use crate::endpoint::{PluginFailure, RequestStats};
use crate::runtime::spin_briefly;

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

/// The next message from the plugin's thread (`None`: the channel closed), waited for as a
/// worker waits for its next job (`runtime/workers.rs`).
pub(crate) fn receive(rx: &Receiver<Message>) -> Option<Message> {
    let polled = spin_briefly(|| match rx.try_recv() {
        Ok(msg) => Some(Some(msg)),
        Err(TryRecvError::Disconnected) => Some(None),
        Err(TryRecvError::Empty) => None,
    });
    polled.unwrap_or_else(|| rx.recv().ok())
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

/// A plugin's response, its body streamed as the plugin writes it.
///
/// Iterate it for the body pieces. A plugin that fails after its head was sent yields one
/// `Err` as the last item: the body is cut, and must not be taken for complete.
pub struct EndpointResponse {
    status: u16,
    headers: Vec<(String, String)>,
    rx: Option<Receiver<Message>>,
    failure_body: Option<Vec<u8>>,
    stats: Option<RequestStats>,
}

impl fmt::Debug for EndpointResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl EndpointResponse {
    /// Wait for the head (or an early end) and build the response.
    pub(crate) fn from_channel(rx: Receiver<Message>) -> Self {
        match first(receive(&rx)) {
            Start::Head(status, headers) => EndpointResponse {
                status,
                headers,
                rx: Some(rx),
                failure_body: None,
                stats: None,
            },
            Start::Ended(result, stats) => {
                let mut response = match result {
                    Ok(()) => EndpointResponse::complete(200, Vec::new()),
                    Err(failure) => EndpointResponse::failed(&failure),
                };
                response.stats = stats;
                response
            }
        }
    }

    fn complete(status: u16, body: Vec<u8>) -> Self {
        EndpointResponse {
            status,
            headers: Vec::new(),
            rx: None,
            failure_body: Some(body),
            stats: None,
        }
    }

    /// A plain-text answer from the host itself (a routing error, a failure to start).
    pub(crate) fn host_text(status: u16, text: String, extra: Option<(&str, String)>) -> Self {
        let mut response = EndpointResponse::complete(status, text.into_bytes());
        response.headers = vec![("content-type".into(), "text/plain; charset=utf-8".into())];
        if let Some((name, value)) = extra {
            response.headers.push((name.to_owned(), value));
        }
        response
    }

    /// The answer for a plugin that failed before sending its head.
    pub(crate) fn failed(failure: &PluginFailure) -> Self {
        EndpointResponse::host_text(failure.status(), failure.to_string(), None)
    }

    /// What the request did, once the plugin has finished (after the body was read).
    pub fn stats(&self) -> Option<RequestStats> {
        self.stats
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, as the plugin sent them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Read the whole body as UTF-8 text; `Err` if the plugin failed midway.
    pub fn text(mut self) -> Result<String, PluginFailure> {
        let bytes = self.read_all()?;
        String::from_utf8(bytes)
            .map_err(|e| PluginFailure::Handler(format!("the body is not UTF-8: {e}")))
    }

    /// Read the whole body; `Err` if the plugin failed midway.
    pub fn bytes(mut self) -> Result<Vec<u8>, PluginFailure> {
        self.read_all()
    }

    /// Read the rest of the body, keeping the response (and its stats) around.
    pub fn read_all(&mut self) -> Result<Vec<u8>, PluginFailure> {
        let mut body = Vec::new();
        for chunk in self.by_ref() {
            body.extend_from_slice(&chunk?);
        }
        Ok(body)
    }
}

impl Iterator for EndpointResponse {
    type Item = Result<Vec<u8>, PluginFailure>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(body) = self.failure_body.take() {
            return (!body.is_empty()).then_some(Ok(body));
        }
        let rx = self.rx.as_ref()?;
        let item = match next(receive(rx)) {
            Body::Chunk(bytes) => return Some(Ok(bytes)),
            Body::End(result, stats) => {
                self.stats = stats.or(self.stats);
                result.err().map(Err)
            }
        };
        self.rx = None;
        item
    }
}
