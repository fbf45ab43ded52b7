//! The Service-API backend: apps invoked through Dify's public API with per-app keys.

use serde_json::{Map, Value, json};

use super::dify_errors::Api;
use super::http::{Http, Upstream};
use super::{DifyConfig, Secret};
use crate::backend::{
    AppError, AppKind, AppRequest, Backend, CallContext, Event, EventStream, Reply, ResponseMode,
};
use dify_plugin_wire::sse::SseParser;
use std::collections::HashMap;

/// Invokes apps through `/v1/chat-messages`, `/v1/workflows/run` and
/// `/v1/completion-messages`, each app with its own `app-…` key.
///
/// Workspace isolation here is the operator's: a plugin reaches exactly the apps whose keys
/// the host was given, so give it keys of its own workspace's apps only.
pub struct ServiceBackend {
    base_url: String,
    keys: HashMap<String, Secret>,
    default_user: String,
    max_event: usize,
    max_blocking: usize,
    http: Http,
}

impl ServiceBackend {
    /// A backend for `config`'s base URL and app keys.
    pub fn new(config: &DifyConfig) -> Result<Self, String> {
        Ok(ServiceBackend {
            base_url: format!("{}/v1", config.base_url),
            keys: config.app_keys.clone(),
            default_user: config.default_user.clone(),
            max_event: config.max_frame_bytes,
            max_blocking: config.max_frame_bytes,
            http: Http::new(config.connect_timeout, config.idle_timeout)?,
        })
    }
}

/// The request body, key for key as the recorded Service API calls: `inputs`, `query` (chat),
/// `response_mode`, `conversation_id` (chat, when continuing), `user`, `files` (when any).
/// `user` is the plugin's, else `fallback_user` (the Service API requires one).
fn request_body(req: &AppRequest, fallback_user: &str) -> Value {
    let mut body = Map::new();
    body.insert("inputs".into(), Value::Object(req.inputs.clone()));
    if req.kind == AppKind::Chat {
        body.insert("query".into(), json!(req.query.as_deref().unwrap_or("")));
    }
    body.insert("response_mode".into(), json!(req.response_mode.as_str()));
    if let Some(id) = req.conversation_id.as_deref().filter(|id| !id.is_empty())
        && req.kind == AppKind::Chat
    {
        body.insert("conversation_id".into(), json!(id));
    }
    body.insert(
        "user".into(),
        json!(req.user.as_deref().unwrap_or(fallback_user)),
    );
    if !req.files.is_empty() {
        body.insert("files".into(), json!(req.files));
    }
    Value::Object(body)
}

impl Backend for ServiceBackend {
    fn invoke(&self, ctx: &CallContext, req: AppRequest) -> Result<Reply, AppError> {
        let key = self.keys.get(&req.app_id).ok_or_else(|| {
            AppError::PermissionDenied(format!(
                "the host has no Service API key for this app (--app-key {}=app-…)",
                req.app_id
            ))
        })?;
        let path = match req.kind {
            AppKind::Chat => "chat-messages",
            AppKind::Workflow => "workflows/run",
            AppKind::Completion => "completion-messages",
        };
        // The host's configured user (`--user-id`) when the plugin names none, else ours.
        let fallback_user = match ctx.user_id.as_str() {
            "" => &self.default_user,
            configured => configured,
        };
        let body = request_body(&req, fallback_user).to_string().into_bytes();
        let authorization = format!("Bearer {}", key.expose());
        let mut upstream = self.http.post_ok(
            Api::Service,
            req.kind,
            &format!("{}/{path}", self.base_url),
            &[("authorization", &authorization)],
            body,
        )?;
        match req.response_mode {
            ResponseMode::Blocking => {
                let body = upstream.read_all(self.max_blocking)?;
                let text = String::from_utf8(body)
                    .map_err(|_| AppError::Internal("the reply is not UTF-8".into()))?;
                if !serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object()) {
                    return Err(AppError::Internal(format!(
                        "the reply is not a JSON object: {}",
                        text.chars().take(200).collect::<String>()
                    )));
                }
                Ok(Reply::Blocking(text))
            }
            ResponseMode::Streaming => Ok(Reply::Streaming(Box::new(SseStream {
                upstream,
                parser: SseParser::new(self.max_event),
                delivered: 0,
                ended: false,
            }))),
        }
    }
}

/// A Service-API event stream, parsed as its bytes arrive; pings are dropped.
struct SseStream {
    upstream: Upstream,
    parser: SseParser,
    delivered: usize,
    ended: bool,
}

impl SseStream {
    fn event(&mut self, data: String) -> Result<Event, AppError> {
        let event = Event::from_json(data)?;
        self.delivered += 1;
        Ok(event)
    }
}

impl SseStream {
    /// An event already received in full, if any (pings skipped).
    fn parsed(&mut self) -> Option<Result<Event, AppError>> {
        loop {
            match self.parser.next_event() {
                Err(e) => {
                    return Some(Err(AppError::Internal(e.to_string())));
                }
                Ok(Some(e)) if e.kind == "ping" => continue,
                Ok(Some(e)) => return Some(self.event(e.data)),
                Ok(None) => return None,
            }
        }
    }
}

impl EventStream for SseStream {
    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        if self.ended {
            return None;
        }
        self.parsed().map(|e| e.map(Some))
    }

    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            if let Some(event) = self.parsed() {
                return event.map(Some);
            }
            match self.upstream.chunk()? {
                Some(bytes) => self.parser.push(&bytes),
                None => {
                    self.ended = true;
                    if let Some(e) = self.parser.finish().filter(|e| e.kind != "ping") {
                        return self.event(e.data).map(Some);
                    }
                    if self.delivered == 0 {
                        // Dify's Service API starts the stream, then rejects the request
                        // (an empty query, a missing required input): only a ping arrives.
                        return Err(AppError::Internal(
                            "Dify ended the stream without any event; the Service API does \
                             this when it rejects a streaming request after starting it (an \
                             empty query, a missing required input). Dify's own log has the \
                             reason; a blocking call gets it as an error"
                                .into(),
                        ));
                    }
                    return Ok(None);
                }
            }
        }
    }
}
