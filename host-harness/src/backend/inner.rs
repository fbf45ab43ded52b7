//! The inner-API backend: apps invoked exactly as Dify's plugin daemon invokes them.

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::dify_errors::Api;
use super::http::{Http, Upstream};
use super::{DifyConfig, Secret};
use crate::backend::{
    AppError, AppRequest, Backend, CallContext, DifyError, Event, EventStream, Reply, ResponseMode,
};
use dify_plugin_wire::frames::FrameDecoder;

/// Invokes apps through `POST {base}/inner/api/invoke/app` with the operator's inner key.
pub struct InnerBackend {
    url: String,
    key: Secret,
    max_frame: usize,
    http: Http,
}

impl InnerBackend {
    /// A backend for `config`, which must carry the inner API key.
    pub fn new(config: &DifyConfig) -> Result<Self, String> {
        let key = config.inner_api_key.clone().ok_or(
            "the inner backend needs Dify's inner API key (--inner-api-key or DIFY_INNER_API_KEY)",
        )?;
        Ok(InnerBackend {
            url: format!("{}/inner/api/invoke/app", config.base_url),
            key,
            max_frame: config.max_frame_bytes,
            http: Http::new(config.connect_timeout, config.idle_timeout)?,
        })
    }
}

/// The request body, key for key as the daemon sends it (Go struct order; `null` optionals
/// become `""`), plus `files`, which Dify's `RequestInvokeApp` accepts.
/// `tenant_id` and `user_id` come from the host's configuration, never from the plugin.
fn request_body(ctx: &CallContext, req: &AppRequest) -> serde_json::Value {
    json!({
        "tenant_id": ctx.tenant_id,
        "user_id": ctx.user_id,
        "type": "app",
        "app_id": req.app_id,
        "inputs": req.inputs,
        "query": req.query.as_deref().unwrap_or(""),
        "response_mode": req.response_mode.as_str(),
        "conversation_id": req.conversation_id.as_deref().unwrap_or(""),
        "user": req.user.as_deref().unwrap_or(""),
        "files": req.files,
    })
}

impl Backend for InnerBackend {
    fn invoke(&self, ctx: &CallContext, req: AppRequest) -> Result<Reply, AppError> {
        let body = request_body(ctx, &req).to_string().into_bytes();
        let upstream = self.http.post_ok(
            Api::Inner,
            req.kind,
            &self.url,
            &[("x-inner-api-key", self.key.expose())],
            body,
        )?;
        let mut stream = FrameStream {
            upstream,
            decoder: FrameDecoder::new(self.max_frame),
        };
        match req.response_mode {
            ResponseMode::Streaming => Ok(Reply::Streaming(Box::new(stream))),
            ResponseMode::Blocking => {
                let reply = stream.next_data()?.ok_or_else(|| {
                    AppError::Internal("Dify's blocking answer had no frame".into())
                })?;
                Ok(Reply::Blocking(reply))
            }
        }
    }
}

/// `{"data": …, "error": ""}`, with `data` kept as the exact text Dify sent.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(default)]
    error: String,
}

/// A streaming inner-API response, decoded frame by frame as its bytes arrive.
struct FrameStream {
    upstream: Upstream,
    decoder: FrameDecoder,
}

impl FrameStream {
    /// A frame already received in full, if any: its `data` as JSON text.
    fn decoded(&mut self) -> Option<Result<String, AppError>> {
        match self.decoder.next_frame() {
            Err(e) => Some(Err(AppError::Internal(e.to_string()))),
            Ok(Some(payload)) => Some(parse_frame(payload)),
            Ok(None) => None,
        }
    }

    /// The next frame's `data` as JSON text, reading as needed; `None` at a clean end.
    fn next_data(&mut self) -> Result<Option<String>, AppError> {
        loop {
            if let Some(data) = self.decoded() {
                return data.map(Some);
            }
            match self.upstream.chunk()? {
                Some(bytes) => self.decoder.push(&bytes),
                None => {
                    return match self.decoder.finish() {
                        Ok(()) => Ok(None),
                        Err(e) => Err(AppError::Internal(e.to_string())),
                    };
                }
            }
        }
    }
}

fn parse_frame(payload: &[u8]) -> Result<String, AppError> {
    let frame: Frame<'_> = serde_json::from_slice(payload)
        .map_err(|e| AppError::Internal(format!("a frame is not Dify's JSON: {e}")))?;
    if !frame.error.is_empty() {
        // The run raised inside Dify after streaming began (reference §3.4). Dify gives only
        // a message: no code, and the HTTP status was already 200.
        return Err(AppError::AppFailed(DifyError::new(200, "", frame.error)));
    }
    match frame.data {
        Some(data) => Ok(data.get().to_owned()),
        None => Err(AppError::Internal("Dify sent a frame with no data".into())),
    }
}

impl EventStream for FrameStream {
    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        match self.next_data()? {
            Some(json) => Event::from_json(json).map(Some),
            None => Ok(None),
        }
    }

    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        let data = self.decoded()?;
        Some(data.and_then(Event::from_json).map(Some))
    }
}
