//! Serving a plugin's endpoints over real HTTP (HTTP/1.1 on a TCP listener).
//!
//! Each request is routed by the plugin's declared endpoints, then runs in its own instance on
//! its own thread. The body streams to the client with chunked transfer encoding as the
//! plugin writes it, through a bounded channel: a slow client blocks the plugin's `write`, so
//! the host never holds more than [`Limits::response_buffer`](crate::Limits) chunks. A client
//! that disconnects drops the channel; the plugin's next `write` answers `closed`, and its
//! app streams are dropped, which cancels them upstream. A plugin that fails after its head
//! was sent gets its connection cut, so the client sees an incomplete chunked body, never one
//! that looks whole.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::endpoint::{EndpointRequest, PluginFailure, RequestStats};
use crate::response::{self, Body as Next, Message, Outbox, Start};
use crate::runtime::Plugin;

type ServerBody = Either<Full<Bytes>, PluginBody>;

/// A running server. Dropping it stops accepting connections.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Bind `addr` (port 0 picks a free port) and serve `plugin` on a background thread.
    pub fn start(plugin: Plugin, addr: SocketAddr) -> std::io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dify-plugin-http")
            .enable_io()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(addr))?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel();
        let plugin = Arc::new(plugin);
        let thread = std::thread::Builder::new()
            .name("dify-plugin-accept".into())
            .spawn(move || runtime.block_on(accept(listener, plugin, stop)))?;
        Ok(Server {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until the process ends.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: TcpListener, plugin: Arc<Plugin>, mut stop: oneshot::Receiver<()>) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    log::warn!(target: "dify_plugin_host::server", "accept failed: {e}");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let plugin = plugin.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(plugin.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                log::debug!(target: "dify_plugin_host::server", "connection from {peer} ended: {e}");
            }
        });
    }
}

/// A plain-text answer from the host.
fn text(status: u16, body: String) -> Response<ServerBody> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// One log line per request, written when the response ends (or the client leaves).
struct RequestLog {
    method: String,
    path: String,
    status: u16,
    started: Instant,
}

impl RequestLog {
    fn finish(&self, outcome: &str, stats: Option<RequestStats>) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let stats = stats.map_or_else(String::new, |s| {
            format!(
                " app_calls={} events={} chunks={} bytes={}",
                s.app_calls, s.events, s.chunks, s.bytes
            )
        });
        log::info!(
            target: "dify_plugin_host::server",
            "{} {} -> {} in {ms:.1} ms{stats} {outcome}",
            self.method, self.path, self.status
        );
    }
}

async fn handle(
    plugin: Arc<Plugin>,
    req: Request<Incoming>,
) -> Result<Response<ServerBody>, Infallible> {
    let mut log = RequestLog {
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        status: 0,
        started: Instant::now(),
    };
    let response = match read_request(&plugin, req).await {
        Err(response) => response,
        Ok(request) => run(&plugin, request, &mut log).await,
    };
    if let Either::Left(_) = response.body() {
        log.status = response.status().as_u16();
        log.finish("", None);
    }
    Ok(response)
}

/// Turn the HTTP request into an [`EndpointRequest`], enforcing the body limit.
async fn read_request(
    plugin: &Plugin,
    req: Request<Incoming>,
) -> Result<EndpointRequest, Response<ServerBody>> {
    let limit = plugin.config().limits.request_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(text(
            413,
            format!("the request body exceeds the limit of {limit} bytes"),
        ));
    }
    let mut request = EndpointRequest::new(req.method().as_str(), req.uri().path());
    request.query = req.uri().query().unwrap_or_default().to_owned();
    request.settings = plugin.config().settings.clone();
    for (name, value) in req.headers() {
        let Ok(value) = value.to_str() else {
            return Err(text(
                400,
                format!("the header '{name}' is not visible ASCII"),
            ));
        };
        request
            .headers
            .push((name.as_str().to_owned(), value.to_owned()));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => request.body = body.to_bytes().to_vec(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Err(text(
                413,
                format!("the request body exceeds the limit of {limit} bytes"),
            ));
        }
        Err(e) => return Err(text(400, format!("cannot read the request body: {e}"))),
    }
    Ok(request)
}

/// Sends the plugin's messages into the async side; blocks the plugin while the channel is
/// full (backpressure).
struct ChannelOutbox(mpsc::Sender<Message>);

impl Outbox for ChannelOutbox {
    fn send(&mut self, msg: Message) -> Result<(), ()> {
        self.0.blocking_send(msg).map_err(drop)
    }
}

async fn run(
    plugin: &Plugin,
    request: EndpointRequest,
    log: &mut RequestLog,
) -> Response<ServerBody> {
    let routed = match plugin.route(request) {
        Ok(routed) => routed,
        Err(refusal) => {
            let mut response = text(refusal.status, refusal.text);
            if let Some(allow) = refusal.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
                response.headers_mut().insert(hyper::header::ALLOW, allow);
            }
            return response;
        }
    };
    let (tx, mut rx) = mpsc::channel(plugin.config().limits.response_buffer.max(1));
    if let Err(failure) = plugin.start(routed, Box::new(ChannelOutbox(tx))) {
        return text(failure.status(), failure.to_string());
    }
    let (status, headers) = match response::first(rx.recv().await) {
        Start::Head(status, headers) => (status, headers),
        Start::Ended(Ok(()), _) => return text(200, String::new()),
        Start::Ended(Err(failure), _) => return text(failure.status(), failure.to_string()),
    };
    let Ok(status_code) = StatusCode::from_u16(status) else {
        return text(
            500,
            format!("the plugin answered with an invalid status {status}"),
        );
    };
    let mut response = Response::new(Either::Right(PluginBody {
        rx,
        log: None,
        cut: None,
    }));
    *response.status_mut() = status_code;
    for (name, value) in headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => return text(500, format!("the plugin sent an invalid header '{name}'")),
        }
    }
    log.status = status;
    if let Either::Right(body) = response.body_mut() {
        body.log = Some(RequestLog {
            method: std::mem::take(&mut log.method),
            path: std::mem::take(&mut log.path),
            status,
            started: log.started,
        });
    }
    response
}

/// The plugin's body, chunk by chunk as it writes it.
struct PluginBody {
    rx: mpsc::Receiver<Message>,
    /// Written once, when the body ends or the client leaves.
    log: Option<RequestLog>,
    /// A failure waiting to cut the body, once what came before it is flushed.
    cut: Option<PluginFailure>,
}

/// Why a body was cut.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Cut(PluginFailure);

impl Body for PluginBody {
    type Data = Bytes;
    type Error = Cut;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Cut>>> {
        if let Some(failure) = self.cut.take() {
            return Poll::Ready(Some(Err(Cut(failure))));
        }
        let (result, stats) = match response::next(ready!(self.rx.poll_recv(cx))) {
            Next::Chunk(bytes) => return Poll::Ready(Some(Ok(Frame::data(bytes.into())))),
            Next::End(result, stats) => (result, stats),
        };
        if let Some(log) = self.log.take() {
            match &result {
                Ok(()) => log.finish("", stats),
                Err(failure) => log.finish(&format!("(body cut: {failure})"), stats),
            }
        }
        match result {
            Ok(()) => Poll::Ready(None),
            Err(failure) => {
                // Yield once so hyper flushes the head and the chunks already written;
                // the error then aborts the connection without the final chunk.
                self.cut = Some(failure);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl Drop for PluginBody {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            log.finish(
                "(client went away; the plugin's app streams are cancelled)",
                None,
            );
        }
    }
}
