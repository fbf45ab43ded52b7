//! The HTTP client both backends share, with an idle timeout on every read.
//!
//! Requests run on a small tokio runtime of the client's own. The plugin's thread never
//! enters it: each step (send, read the next bytes) is spawned there and waited for on a plain
//! channel. So a backend works the same when its caller is itself inside an async runtime (a
//! plugin author's `#[tokio::test]`), where tokio's `block_on` would panic, and dropping it
//! there does not panic either.

use std::future::Future;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use bytes::Bytes;

use super::dify_errors::{Api, map_error};
use crate::backend::{AppError, AppKind};
use crate::budget::waiting;

/// Largest error body read from Dify.
const MAX_ERROR_BODY: usize = 64 << 10;

/// A client and the runtime it runs on.
pub(crate) struct Http {
    client: reqwest::Client,
    handle: tokio::runtime::Handle,
    _runtime: IoRuntime,
    idle: Duration,
}

/// A response being received. `response` is away only while a read of it runs.
pub(crate) struct Upstream {
    pub status: u16,
    response: Option<reqwest::Response>,
    handle: tokio::runtime::Handle,
    idle: Duration,
}

/// The runtime, shut down without waiting when dropped (safe in any context).
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Run `step` on the client's runtime and wait for it on this thread, whatever this thread is.
/// The wait is the request's time spent on Dify (`crate::budget`), and lasts no longer than
/// the request's wall time allows: past that, the step is aborted.
fn run_on<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    step: impl Future<Output = T> + Send + 'static,
) -> Result<T, AppError> {
    let (done, result) = std::sync::mpsc::sync_channel(1);
    let task = handle.spawn(async move {
        let _ = done.send(step.await);
    });
    let received = waiting(|limit| match limit {
        Some(limit) => result.recv_timeout(limit).map_err(|e| match e {
            RecvTimeoutError::Timeout => Some(limit),
            RecvTimeoutError::Disconnected => None,
        }),
        None => result.recv().map_err(|_| None),
    });
    received.map_err(|timed_out| {
        task.abort();
        match timed_out {
            Some(limit) => AppError::Timeout(format!(
                "the request's wall time ran out after waiting {:.1} s for Dify",
                limit.as_secs_f64()
            )),
            None => AppError::Internal("the host's HTTP client stopped".into()),
        }
    })
}

impl Http {
    pub(crate) fn new(connect_timeout: Duration, idle: Duration) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dify-http")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            handle: runtime.handle().clone(),
            _runtime: IoRuntime(Some(runtime)),
            idle,
        })
    }

    /// POST a JSON body and wait for a 200; any other status becomes the mapped Dify error.
    /// `kind` is the interface used. Error texts do not name the app: the SDK does, once.
    pub(crate) fn post_ok(
        &self,
        api: Api,
        kind: AppKind,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Upstream, AppError> {
        let mut upstream = self.post(url, headers, body)?;
        if upstream.status != 200 {
            let body = upstream.read_all(MAX_ERROR_BODY)?;
            return Err(map_error(api, upstream.status, &body, kind));
        }
        Ok(upstream)
    }

    /// POST a JSON body and wait for the response head.
    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Upstream, AppError> {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let idle = self.idle;
        let sent = run_on(&self.handle, async move {
            tokio::time::timeout(idle, request.send()).await
        })?;
        let response = match sent {
            Err(_) => return Err(idle_timeout(self.idle)),
            Ok(Err(e)) => return Err(AppError::Internal(describe(&e))),
            Ok(Ok(response)) => response,
        };
        Ok(Upstream {
            status: response.status().as_u16(),
            response: Some(response),
            handle: self.handle.clone(),
            idle: self.idle,
        })
    }
}

impl Upstream {
    /// The next bytes of the body, `None` at its end.
    pub(crate) fn chunk(&mut self) -> Result<Option<Bytes>, AppError> {
        let idle = self.idle;
        let mut response = self
            .response
            .take()
            .ok_or_else(|| AppError::Internal("the response broke off earlier".into()))?;
        let (response, read) = run_on(&self.handle, async move {
            let read = tokio::time::timeout(idle, response.chunk()).await;
            (response, read)
        })?;
        self.response = Some(response);
        match read {
            Err(_) => Err(idle_timeout(idle)),
            Ok(Err(e)) => Err(AppError::Internal(format!(
                "the response broke off: {}",
                describe(&e)
            ))),
            Ok(Ok(chunk)) => Ok(chunk),
        }
    }

    /// The whole body, up to `max` bytes.
    pub(crate) fn read_all(&mut self, max: usize) -> Result<Vec<u8>, AppError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk()? {
            if body.len() + chunk.len() > max {
                return Err(AppError::Internal(format!(
                    "the response exceeds the limit of {max} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn idle_timeout(idle: Duration) -> AppError {
    AppError::Timeout(format!(
        "Dify sent nothing for {} s (the idle timeout)",
        idle.as_secs_f64()
    ))
}

/// reqwest's error with its causes, without the URL's query (none of ours carry secrets,
/// but keep the text short).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
