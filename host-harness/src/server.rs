//! Serving a plugin's endpoints over real HTTP (HTTP/1.1 on a TCP listener).
//!
//! Each request is routed by the plugin's declared endpoints first, from its head alone, so a
//! 404, 405 or 413 costs neither a body read nor an instance. A routed request's body is read
//! against the host's budget for request bytes, the request is admitted (its plugin's and the
//! host's slots, `runtime/admission.rs`: 503 with `Retry-After` beyond them), and it runs in
//! its own instance on its own thread. The body streams to the client with chunked transfer
//! encoding as the plugin writes it, through a bounded channel: a slow client blocks the
//! plugin's `write` (for at most `Limits::write_timeout`), so the host holds at most
//! `Limits::response_buffer` pieces of 64 KiB per response. A client that disconnects drops the
//! channel; the plugin's next `write` answers `closed`, and its app streams are dropped, which
//! cancels them upstream. A plugin that fails after its head was sent gets its connection cut,
//! so the client sees an incomplete chunked body, never one that looks whole. An HTTP/1.0
//! client cannot be sent a chunked body, so its response is gathered whole and sent with a
//! `Content-Length` (a failure midway is then a 500, not a short body).
//!
//! Connections ([`ServerLimits`]): a cap on open ones (the rest wait in the kernel's backlog),
//! a time for a request head to arrive (which also closes idle keep-alive connections) and for
//! a request body; `accept` errors such as running out of file descriptors back off instead of
//! spinning, with one log line per burst.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::budget::waiting;
use crate::endpoint::{EndpointRequest, PluginFailure, RequestStats};
use crate::response::{self, Body as Next, Message, Outbox, Start};
use crate::runtime::Plugin;

type ServerBody = Either<Full<Bytes>, PluginBody>;

/// The largest body gathered whole for an HTTP/1.0 client.
pub const MAX_HTTP10_BODY: usize = 8 << 20;

/// What the server allows its clients, beyond each plugin's own [`Limits`](crate::Limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once (default 4,096, below the usual file-descriptor limit).
    pub max_connections: usize,
    /// How long a client may take to send a request head, or leave a kept-alive connection
    /// idle (default 10 s).
    pub header_timeout: Duration,
    /// How long a client may take to send a request body (default 30 s).
    pub body_timeout: Duration,
    /// Request body bytes held at once, across all requests (default 256 MiB): beyond it a
    /// request is answered 503.
    pub request_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_bytes: 256 << 20,
        }
    }
}

/// A running server. Dropping it stops accepting connections.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What every connection shares.
struct Shared {
    plugin: Plugin,
    /// The runtime's handle, for the plugin threads' timed writes into the channel.
    runtime: tokio::runtime::Handle,
    /// Request body bytes, in KiB, that may still be held.
    request_bytes: Arc<Semaphore>,
    limits: ServerLimits,
}

impl Server {
    /// Bind `addr` (port 0 picks a free port) and serve `plugin` on a background thread.
    pub fn start(plugin: Plugin, addr: SocketAddr) -> std::io::Result<Server> {
        Server::start_with(plugin, addr, ServerLimits::default())
    }

    /// [`Server::start`] with limits of one's own.
    pub fn start_with(
        plugin: Plugin,
        addr: SocketAddr,
        limits: ServerLimits,
    ) -> std::io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dify-plugin-http")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(async { listen(addr) })?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel();
        let shared = Arc::new(Shared {
            plugin,
            runtime: runtime.handle().clone(),
            request_bytes: Arc::new(Semaphore::new(limits.request_bytes.div_ceil(1024))),
            limits,
        });
        let thread = std::thread::Builder::new()
            .name("dify-plugin-accept".into())
            .spawn(move || runtime.block_on(accept(listener, shared, stop)))?;
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

/// A listener with a backlog of 1,024 (std's is 128), so that a burst of connections waits in
/// the kernel instead of having its SYNs dropped.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let connections = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
    let mut backoff = Duration::ZERO;
    loop {
        // A free connection slot first: beyond the cap, clients wait in the backlog.
        let permit = tokio::select! {
            _ = &mut stop => return,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors (EMFILE, ENFILE) or memory: wait for connections
                    // to end rather than spin; say so once per burst.
                    if backoff.is_zero() {
                        log::warn!(target: "dify_plugin_host::server", "accept failed: {e}; backing off");
                    }
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            },
        };
        backoff = Duration::ZERO;
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(shared.clone(), stream, peer, permit));
    }
}

async fn serve_connection(
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let header_timeout = shared.limits.header_timeout;
    let service = service_fn(move |req| handle(shared.clone(), req));
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        log::debug!(target: "dify_plugin_host::server", "connection from {peer} ended: {e}");
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

/// The answer for a request that failed before its head: busy ones say when to come back.
fn failed(failure: &PluginFailure) -> Response<ServerBody> {
    let mut response = text(failure.status(), failure.to_string());
    if let PluginFailure::Busy(_) = failure {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// One log line per request, written when the response ends (or the client leaves).
struct RequestLog {
    /// The method and path, kept only when the line will be written: with its level off, a
    /// request costs the log neither a copy nor any formatting.
    line: Option<(String, String)>,
    status: u16,
    started: Instant,
}

impl RequestLog {
    fn new(req: &Request<Incoming>) -> Self {
        let on = log::log_enabled!(target: "dify_plugin_host::server", log::Level::Info);
        RequestLog {
            line: on.then(|| {
                (
                    req.method().as_str().to_owned(),
                    req.uri().path().to_owned(),
                )
            }),
            status: 0,
            started: Instant::now(),
        }
    }

    fn finish(&self, outcome: &str, stats: Option<RequestStats>) {
        let Some((method, path)) = &self.line else {
            return;
        };
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let stats = stats.map_or_else(String::new, |s| {
            format!(
                " app_calls={} events={} chunks={} bytes={}",
                s.app_calls, s.events, s.chunks, s.bytes
            )
        });
        log::info!(
            target: "dify_plugin_host::server",
            "{method} {path} -> {} in {ms:.1} ms{stats} {outcome}",
            self.status
        );
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<ServerBody>, Infallible> {
    let mut log = RequestLog::new(&req);
    let response = run(&shared, req, &mut log).await;
    if let Either::Left(_) = response.body() {
        log.status = response.status().as_u16();
        log.finish("", None);
    }
    Ok(response)
}

/// The [`EndpointRequest`] of a request head: method, path, query, headers, settings; or why
/// it is a bad request.
fn endpoint_request(plugin: &Plugin, req: &Request<Incoming>) -> Result<EndpointRequest, String> {
    let mut request = EndpointRequest::new(req.method().as_str(), req.uri().path());
    request.query = req.uri().query().unwrap_or_default().to_owned();
    request.settings = plugin.config().settings.clone();
    for (name, value) in req.headers() {
        let Ok(value) = value.to_str() else {
            return Err(format!("the header '{name}' is not visible ASCII"));
        };
        request
            .headers
            .push((name.as_str().to_owned(), value.to_owned()));
    }
    Ok(request)
}

/// Read a routed request's body, at most `limit` bytes, each piece counted against the host's
/// budget for request bytes; the permits are held until the request is answered.
async fn read_body(
    shared: &Shared,
    body: Incoming,
    limit: usize,
) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), Response<ServerBody>> {
    let too_large = || {
        text(
            413,
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    };
    let read = async {
        let mut body = body;
        let mut bytes = Vec::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| text(400, format!("cannot read the request body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if bytes.len() + data.len() > limit {
                return Err(too_large());
            }
            // Whole KiB, rounded up, held for what the body has grown to.
            let needed = (bytes.len() + data.len()).div_ceil(1024) as u32;
            let have = held.as_ref().map_or(0, |p| p.num_permits() as u32);
            if needed > have {
                let more = shared
                    .request_bytes
                    .clone()
                    .try_acquire_many_owned(needed - have)
                    .map_err(|_| {
                        failed(&PluginFailure::Busy(format!(
                            "the host holds {} KiB of request bodies, its limit; try again shortly",
                            shared.limits.request_bytes >> 10
                        )))
                    })?;
                match held.as_mut() {
                    Some(permit) => permit.merge(more),
                    None => held = Some(more),
                }
            }
            bytes.extend_from_slice(&data);
        }
        Ok((bytes, held))
    };
    let timeout = shared.limits.body_timeout;
    match tokio::time::timeout(timeout, read).await {
        Ok(read) => read,
        Err(_) => Err(text(
            408,
            format!(
                "the request body did not arrive within {:.1} s",
                timeout.as_secs_f64()
            ),
        )),
    }
}

/// Sends the plugin's messages into the async side; blocks the plugin while the channel is
/// full (backpressure), for at most the write timeout and what is left of its wall time.
struct ChannelOutbox {
    tx: mpsc::Sender<Message>,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

impl Outbox for ChannelOutbox {
    fn send(&mut self, msg: Message) -> Result<(), ()> {
        let msg = match self.tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(()),
            Err(mpsc::error::TrySendError::Full(msg)) => msg,
        };
        waiting(|wall_left| {
            let limit = wall_left.map_or(self.timeout, |left| left.min(self.timeout));
            // The timer must be made inside the runtime: this is a plugin's thread.
            let sent = self
                .runtime
                .block_on(async { tokio::time::timeout(limit, self.tx.send(msg)).await });
            match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(()),
                Err(_) => {
                    log::info!(
                        target: "dify_plugin_host::server",
                        "the client read nothing for {:.1} s; closing its response",
                        limit.as_secs_f64()
                    );
                    Err(())
                }
            }
        })
    }
}

async fn run(
    shared: &Shared,
    req: Request<Incoming>,
    log: &mut RequestLog,
) -> Response<ServerBody> {
    let plugin = &shared.plugin;
    let limits = &plugin.config().limits;
    let request = match endpoint_request(plugin, &req) {
        Ok(request) => request,
        Err(bad) => return text(400, bad),
    };
    let mut routed = match plugin.route(request) {
        Ok(routed) => routed,
        Err(refusal) => {
            let mut response = text(refusal.status, refusal.text);
            if let Some(allow) = refusal.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
                response.headers_mut().insert(hyper::header::ALLOW, allow);
            }
            return response;
        }
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.request_bytes as u64) {
        return text(
            413,
            format!(
                "the request body exceeds the limit of {} bytes",
                limits.request_bytes
            ),
        );
    }
    let http10 = req.version() == Version::HTTP_10;
    let (body, _request_bytes) =
        match read_body(shared, req.into_body(), limits.request_bytes).await {
            Ok(read) => read,
            Err(response) => return response,
        };
    routed.request_mut().body = body;
    let admitted = match plugin.admit().await {
        Ok(admitted) => admitted,
        Err(busy) => return failed(&busy),
    };
    let (tx, mut rx) = mpsc::channel(limits.response_buffer.max(1));
    let outbox = ChannelOutbox {
        tx,
        runtime: shared.runtime.clone(),
        timeout: limits.write_timeout,
    };
    if let Err(failure) = plugin.start(routed, Box::new(outbox), admitted) {
        return failed(&failure);
    }
    let (status, headers) = match response::first(rx.recv().await) {
        Start::Head(status, headers) => (status, headers),
        Start::Ended(Ok(()), _) => return text(200, String::new()),
        Start::Ended(Err(failure), _) => return failed(&failure),
    };
    let mut body = PluginBody {
        rx,
        log: None,
        cut: None,
    };
    if http10 {
        // No chunked encoding for HTTP/1.0: gather the body, so that a cut is a 500 rather
        // than a short body the client would take for complete.
        match gather(&mut body).await {
            Ok(bytes) => {
                return head_response(status, headers, Either::Left(Full::new(bytes.into())));
            }
            Err(failure) => return failed(&failure),
        }
    }
    log.status = status;
    body.log = Some(RequestLog {
        line: log.line.take(),
        status,
        started: log.started,
    });
    head_response(status, headers, Either::Right(body))
}

/// The plugin's head (checked by its sink already) over `body`.
fn head_response(
    status: u16,
    headers: Vec<(String, String)>,
    body: ServerBody,
) -> Response<ServerBody> {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The rest of a body, whole (dropping `body` early, on a failure, closes the plugin's writer).
async fn gather(body: &mut PluginBody) -> Result<Vec<u8>, PluginFailure> {
    let mut bytes = Vec::new();
    loop {
        match response::next(body.rx.recv().await) {
            Next::Chunk(chunk) if bytes.len() + chunk.len() <= MAX_HTTP10_BODY => {
                bytes.extend_from_slice(&chunk)
            }
            Next::Chunk(_) => {
                return Err(PluginFailure::Host(format!(
                    "the response is larger than the {} MiB an HTTP/1.0 client is sent whole \
                     (no chunked encoding); use HTTP/1.1",
                    MAX_HTTP10_BODY >> 20
                )));
            }
            Next::End(result, _) => return result.map(|()| bytes),
        }
    }
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
