//! The HTTP client both backends share: requests go out on a small tokio runtime, and the
//! plugin's thread blocks on each step, with an idle timeout on every read.

use std::time::Duration;

use bytes::Bytes;

use super::errors::{Api, map_error};
use crate::backend::{AppError, AppKind};

/// Largest error body read from Dify.
const MAX_ERROR_BODY: usize = 64 << 10;

/// A client and the runtime it runs on.
pub(crate) struct Http {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    idle: Duration,
}

/// A response being received.
pub(crate) struct Upstream {
    pub status: u16,
    response: reqwest::Response,
    handle: tokio::runtime::Handle,
    idle: Duration,
    what: String,
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
            runtime,
            idle,
        })
    }

    /// POST a JSON body and wait for a 200; any other status becomes the mapped Dify error.
    /// `what` names the call in errors (`chat app 'x'`), `kind` is the interface used.
    pub(crate) fn post_ok(
        &self,
        api: Api,
        kind: AppKind,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        what: &str,
    ) -> Result<Upstream, AppError> {
        let mut upstream = self.post(url, headers, body, what)?;
        if upstream.status != 200 {
            let body = upstream.read_all(MAX_ERROR_BODY)?;
            return Err(map_error(api, upstream.status, &body, kind, what));
        }
        Ok(upstream)
    }

    /// POST a JSON body and wait for the response head.
    fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        what: &str,
    ) -> Result<Upstream, AppError> {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let sent = self
            .runtime
            .block_on(async { tokio::time::timeout(self.idle, request.send()).await });
        let response = match sent {
            Err(_) => return Err(idle_timeout(what, self.idle)),
            Ok(Err(e)) => return Err(AppError::Internal(format!("{what}: {}", describe(&e)))),
            Ok(Ok(response)) => response,
        };
        Ok(Upstream {
            status: response.status().as_u16(),
            response,
            handle: self.runtime.handle().clone(),
            idle: self.idle,
            what: what.to_owned(),
        })
    }
}

impl Upstream {
    /// The next bytes of the body, `None` at its end.
    pub(crate) fn chunk(&mut self) -> Result<Option<Bytes>, AppError> {
        let idle = self.idle;
        let read = self
            .handle
            .block_on(async { tokio::time::timeout(idle, self.response.chunk()).await });
        match read {
            Err(_) => Err(idle_timeout(&self.what, idle)),
            Ok(Err(e)) => Err(AppError::Internal(format!(
                "{}: the response broke off: {}",
                self.what,
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
                    "{}: the response exceeds the limit of {max} bytes",
                    self.what
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// What this call is, for error messages.
    pub(crate) fn what(&self) -> &str {
        &self.what
    }
}

fn idle_timeout(what: &str, idle: Duration) -> AppError {
    AppError::Timeout(format!(
        "{what}: Dify sent nothing for {} s (the idle timeout)",
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
