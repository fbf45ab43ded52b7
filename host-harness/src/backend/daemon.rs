//! App calls answered by Dify's plugin daemon: backwards invocations (reference: dify-wire.md
//! §1.4, §2.6, §3.1, §3.5).
//!
//! Inside a daemon session, a plugin's app call becomes a `session`/`invoke` message of type
//! `app`, with the request keys exactly as the Python SDK sends them; the daemon answers it
//! with `backwards_response` lines: `response` chunks (each an event, or the blocking reply),
//! perhaps an `error`, then `end`. The id is registered before the message is written, so no
//! answer can come before it is awaited.
//!
//! The daemon's error texts embed what Dify answered (`invoke app failed: request failed with
//! status code: 400 and respond with: {…}`), and they are mapped by the same code as the
//! inner-API backend's answers, so a plugin sees the same typed error for the same Dify answer
//! whichever way its call went. A failure mid-stream (`read app failed: …`) is the run's failure.
//!
//! The protocol has no cancel message: dropping a stream stops relaying it, and whatever still
//! comes for its id is discarded. A connection that ends fails every call still open.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use super::dify_errors::{Api, map_error};
use super::{
    AppError, AppKind, AppRequest, Backend, CallContext, DifyError, Event, EventStream, Reply,
    ResponseMode,
};
use crate::budget::waiting;
use crate::runtime::spin_briefly;

/// What the daemon answers a backwards invocation with, one message at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A `response`: the JSON text of its `data` (an event, or the blocking reply).
    Response(String),
    /// An `error`, with the daemon's message.
    Error(String),
    /// The `end`.
    End,
}

/// The answers to one backwards invocation, from the connection's reading thread to the
/// plugin's. A stream's events come a line each, faster than a thread hand-off per event
/// would go: the reader appends each answer under a lock (the event's text to one buffer),
/// and the plugin's thread takes everything delivered so far in one swap, giving back the
/// buffers it emptied. Once warm, no answer costs an allocation on the reading thread, nor
/// a wake-up unless the taker sleeps. Unbounded, as the daemon's stream is.
#[derive(Default)]
pub(crate) struct Mailbox {
    state: Mutex<Delivery>,
    arrived: Condvar,
    /// Whether `state` has answers not taken yet: a taker polls it without the lock.
    pending: AtomicBool,
}

#[derive(Default)]
struct Delivery {
    inbox: Inbox,
    /// The connection ended: no more answers will come.
    closed: bool,
    /// The taker waits on `arrived`.
    sleeping: bool,
}

/// Answers delivered, in order: each `response`'s JSON text is its length's worth of `texts`.
#[derive(Default)]
struct Inbox {
    texts: String,
    answers: VecDeque<Delivered>,
    /// How much of `texts` the taker has read.
    read: usize,
}

enum Delivered {
    Response(usize),
    Error(String),
    End,
}

impl Inbox {
    fn pop(&mut self) -> Option<Answer> {
        let answer = match self.answers.pop_front()? {
            Delivered::Response(len) => {
                let text = self.texts[self.read..self.read + len].to_owned();
                self.read += len;
                Answer::Response(text)
            }
            Delivered::Error(message) => Answer::Error(message),
            Delivered::End => Answer::End,
        };
        if self.answers.is_empty() {
            self.texts.clear();
            self.read = 0;
        }
        Some(answer)
    }
}

/// Why no answer was taken.
enum NotTaken {
    Timeout,
    Closed,
}

impl Mailbox {
    /// A `response` with this JSON text.
    pub(crate) fn response(&self, json: &str) {
        self.deliver(|inbox| {
            inbox.texts.push_str(json);
            inbox.answers.push_back(Delivered::Response(json.len()));
        });
    }

    /// An `error`, with the daemon's message.
    pub(crate) fn error(&self, message: String) {
        self.deliver(|inbox| inbox.answers.push_back(Delivered::Error(message)));
    }

    /// The `end`.
    pub(crate) fn end(&self) {
        self.deliver(|inbox| inbox.answers.push_back(Delivered::End));
    }

    /// The connection ended: a taker gets what was delivered, then the failure.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.arrived.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Delivery> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deliver(&self, put: impl FnOnce(&mut Inbox)) {
        let mut state = self.lock();
        put(&mut state.inbox);
        self.pending.store(true, Ordering::Release);
        if state.sleeping {
            self.arrived.notify_one();
        }
    }

    /// Move what was delivered into `into` (empty; its buffers go back to the mailbox),
    /// waiting up to `limit` for something (`None`: not at all).
    fn take(
        &self,
        into: &mut Inbox,
        limit: Option<Duration>,
        link: &dyn Link,
    ) -> Result<(), NotTaken> {
        let pending = || self.pending.load(Ordering::Acquire).then_some(());
        if limit.is_some() {
            if pending().is_none() {
                // Read the answer on this thread if no other is reading, and poll briefly
                // before sleeping: waking a sleeping thread costs more than most answers
                // take to come.
                link.start_reading();
                let answered = spin_briefly(|| {
                    link.pump();
                    pending()
                });
                link.stop_reading(answered.is_some());
            }
        } else if pending().is_none() {
            link.pump();
        }
        let mut state = self.lock();
        let deadline = limit.map(|limit| Instant::now() + limit);
        loop {
            if !state.inbox.answers.is_empty() {
                std::mem::swap(&mut state.inbox, into);
                self.pending.store(false, Ordering::Release);
                return Ok(());
            }
            if state.closed {
                return Err(NotTaken::Closed);
            }
            let left = deadline
                .and_then(|deadline| deadline.checked_duration_since(Instant::now()))
                .filter(|left| !left.is_zero())
                .ok_or(NotTaken::Timeout)?;
            state.sleeping = true;
            state = self
                .arrived
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            state.sleeping = false;
        }
    }
}

/// The connection a session's invocations travel on (implemented by the daemon front end).
pub(crate) trait Link: Send + Sync + 'static {
    /// Start listening for answers to `id`; must be called before the invoke is sent.
    fn listen(&self, id: &str) -> Arc<Mailbox>;
    /// Stop listening for `id`: later answers are discarded.
    fn forget(&self, id: &str);
    /// Send an `invoke` message in `session_id`, its `data` the JSON `message`.
    fn invoke(&self, session_id: &str, message: &[u8]) -> Result<(), String>;
    /// A call polls for its answer, reading the lines itself ([`Link::pump`]) meanwhile:
    /// the reading thread need not watch the connection until [`Link::stop_reading`].
    fn start_reading(&self);
    /// The call stops polling: it has its answer (`answered`), or sleeps until it comes.
    fn stop_reading(&self, answered: bool);
    /// The session makes no more calls: the reading thread must read now, if no call does.
    fn wake_reader(&self);
    /// Read and hand out the answers that have come, without waiting; nothing if another
    /// thread is reading them. A call waiting for its answer calls it, so that the thread
    /// that wants the answer is the one that reads it.
    fn pump(&self);
}

/// The backend of one daemon session.
pub(crate) struct DaemonBackend {
    link: Arc<dyn Link>,
    session_id: String,
    /// How long the daemon may stay silent on one call (the Python SDK's 250 s).
    idle: Duration,
}

impl DaemonBackend {
    pub(crate) fn new(link: Arc<dyn Link>, session_id: &str, idle: Duration) -> Self {
        DaemonBackend {
            link,
            session_id: session_id.to_owned(),
            idle,
        }
    }
}

/// The session makes no more calls (the backend goes with its request).
impl Drop for DaemonBackend {
    fn drop(&mut self) {
        self.link.wake_reader();
    }
}

/// A new `backwards_request_id`: 32 hex digits, as the Python SDK's (a uuid4's), unique in
/// this process (a random half chosen once, and a count), without a system call for each.
fn invocation_id() -> String {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("{process:016x}{count:016x}")
}

/// The `data` of an app call's `invoke` message, written as it is without building a
/// `Value` first (it is on every blocking call's path): `type`, the id, and the `request`.
#[derive(Serialize)]
struct Invoke<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    backwards_request_id: &'a str,
    request: InvokeRequest<'a>,
}

/// The `request` of the invoke, key for key as the Python SDK 0.10.2 sends it.
#[derive(Serialize)]
#[serde(untagged)]
enum InvokeRequest<'a> {
    Chat {
        app_id: &'a str,
        query: &'a Option<String>,
        inputs: &'a Map<String, Value>,
        response_mode: &'static str,
        conversation_id: &'a Option<String>,
        user: &'a Option<String>,
    },
    Other {
        app_id: &'a str,
        inputs: &'a Map<String, Value>,
        response_mode: &'static str,
        user: &'a Option<String>,
    },
}

impl<'a> InvokeRequest<'a> {
    fn new(req: &'a AppRequest) -> Self {
        let response_mode = req.response_mode.as_str();
        match req.kind {
            AppKind::Chat => InvokeRequest::Chat {
                app_id: &req.app_id,
                query: &req.query,
                inputs: &req.inputs,
                response_mode,
                conversation_id: &req.conversation_id,
                user: &req.user,
            },
            AppKind::Workflow | AppKind::Completion => InvokeRequest::Other {
                app_id: &req.app_id,
                inputs: &req.inputs,
                response_mode,
                user: &req.user,
            },
        }
    }
}

impl Backend for DaemonBackend {
    fn invoke(&self, _ctx: &CallContext, req: AppRequest) -> Result<Reply, AppError> {
        // The daemon sets the workspace and user itself (the session's), whatever is sent.
        let id = invocation_id();
        let answers = self.link.listen(&id);
        let message = Invoke {
            kind: "app",
            backwards_request_id: &id,
            request: InvokeRequest::new(&req),
        };
        // Strings and a map of JSON values always serialise.
        let message = serde_json::to_vec(&message).unwrap_or_default();
        if let Err(e) = self.link.invoke(&self.session_id, &message) {
            self.link.forget(&id);
            return Err(AppError::Internal(format!(
                "cannot send the app call to the daemon: {e}"
            )));
        }
        let mut stream = DaemonStream {
            link: self.link.clone(),
            id,
            answers,
            taken: Inbox::default(),
            idle: self.idle,
            kind: req.kind,
            done: false,
        };
        match req.response_mode {
            ResponseMode::Streaming => Ok(Reply::Streaming(Box::new(stream))),
            ResponseMode::Blocking => match stream.next_json()? {
                Some(json) => Ok(Reply::Blocking(json)),
                None => Err(AppError::Internal(format!(
                    "the daemon ended the {} call without an answer",
                    req.kind
                ))),
            },
        }
    }
}

/// The answers to one invocation.
struct DaemonStream {
    link: Arc<dyn Link>,
    id: String,
    answers: Arc<Mailbox>,
    /// Answers taken from the mailbox and not read yet.
    taken: Inbox,
    idle: Duration,
    kind: AppKind,
    done: bool,
}

impl DaemonStream {
    fn next_json(&mut self) -> Result<Option<String>, AppError> {
        if self.done {
            return Ok(None);
        }
        if let Some(answer) = self.taken.pop() {
            return self.take(Ok(answer));
        }
        let idle = self.idle;
        let (answers, taken, link) = (&self.answers, &mut self.taken, &*self.link);
        let result = waiting(|wall_left| {
            let limit = wall_left.map_or(idle, |left| left.min(idle));
            answers
                .take(taken, Some(limit), link)
                .map_err(|e| (e, limit))
        });
        let answer = match result {
            Ok(()) => Ok(self.taken.pop().unwrap_or(Answer::End)),
            Err((NotTaken::Timeout, limit)) => Err(AppError::Timeout(format!(
                "the daemon sent nothing for {:.1} s",
                limit.as_secs_f64()
            ))),
            Err((NotTaken::Closed, _)) => Err(AppError::Internal(
                "the connection to the daemon closed before the app call ended".into(),
            )),
        };
        self.take(answer)
    }

    /// The next answer if one was delivered, without waiting.
    fn ready(&mut self) -> Option<Answer> {
        if let Some(answer) = self.taken.pop() {
            return Some(answer);
        }
        // Reading the connection is not the plugin's time.
        let (answers, taken, link) = (&self.answers, &mut self.taken, &*self.link);
        waiting(|_| answers.take(taken, None, link)).ok()?;
        self.taken.pop()
    }

    fn take(&mut self, answer: Result<Answer, AppError>) -> Result<Option<String>, AppError> {
        let answer = answer.inspect_err(|_| self.done = true)?;
        match answer {
            Answer::Response(json) => Ok(Some(json)),
            Answer::End => {
                self.done = true;
                Ok(None)
            }
            Answer::Error(message) => {
                self.done = true;
                Err(daemon_error(&message, self.kind))
            }
        }
    }
}

impl EventStream for DaemonStream {
    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        self.next_json()?.map(Event::from_json).transpose()
    }

    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        if self.done {
            return None;
        }
        let answer = self.ready()?;
        Some(
            self.take(Ok(answer))
                .and_then(|json| json.map(Event::from_json).transpose()),
        )
    }
}

impl Drop for DaemonStream {
    fn drop(&mut self) {
        // No cancel message exists: stop relaying; what still comes is discarded.
        self.link.forget(&self.id);
    }
}

/// The typed error for a daemon `error` text.
fn daemon_error(message: &str, kind: AppKind) -> AppError {
    const STATUS: &str = "request failed with status code: ";
    const BODY: &str = " and respond with: ";
    if let Some(rest) = message.strip_prefix("invoke app failed: ") {
        if let Some(after) = rest.strip_prefix(STATUS)
            && let Some((status, body)) = after.split_once(BODY)
            && let Ok(status) = status.trim().parse::<u16>()
        {
            return map_error(Api::Daemon, status, body.trim_end().as_bytes(), kind);
        }
        return AppError::Internal(format!("the daemon could not reach Dify: {rest}"));
    }
    if let Some(rest) = message.strip_prefix("read app failed: ") {
        // The run failed inside Dify after streaming began, as an inner-API frame error.
        let text = rest.strip_prefix("request failed: ").unwrap_or(rest);
        return AppError::AppFailed(DifyError::new(200, "", text));
    }
    if message.starts_with("permission denied") {
        return AppError::PermissionDenied(format!(
            "the daemon refused the app call ({message}); set resource.permission.app.enabled: true in manifest.yaml"
        ));
    }
    AppError::Internal(format!("the daemon refused the app call: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn daemon_texts_become_the_inner_apis_typed_errors() {
        let text = "invoke app failed: request failed with status code: 400 and respond with: {\"code\":\"invalid_param\",\"message\":\"app not found\",\"status\":400}\n";
        assert_eq!(
            daemon_error(text, AppKind::Chat),
            AppError::NotFound(DifyError::invalid_param("app not found"))
        );
        let text = "invoke app failed: request failed with status code: 404 and respond with: {\"message\":\"not found\"}";
        assert!(matches!(
            daemon_error(text, AppKind::Chat),
            AppError::PermissionDenied(_)
        ));
        assert_eq!(
            daemon_error("read app failed: request failed: boom", AppKind::Workflow),
            AppError::AppFailed(DifyError::new(200, "", "boom"))
        );
        assert!(matches!(
            daemon_error("permission denied, you need to enable app access in plugin manifest", AppKind::Chat),
            AppError::PermissionDenied(m) if m.contains("app.enabled")
        ));
    }

    #[test]
    fn requests_have_the_python_sdks_keys_in_its_order() {
        let mut req = AppRequest {
            kind: AppKind::Chat,
            app_id: "a".into(),
            query: Some("hi".into()),
            inputs: Default::default(),
            conversation_id: None,
            files: vec![json!({"type": "image"})],
            user: None,
            response_mode: ResponseMode::Streaming,
        };
        let request = |req: &AppRequest| serde_json::to_string(&InvokeRequest::new(req)).unwrap();
        assert_eq!(
            request(&req),
            r#"{"app_id":"a","query":"hi","inputs":{},"response_mode":"streaming","conversation_id":null,"user":null}"#
        );
        req.kind = AppKind::Workflow;
        req.response_mode = ResponseMode::Blocking;
        assert_eq!(
            request(&req),
            r#"{"app_id":"a","inputs":{},"response_mode":"blocking","user":null}"#
        );
    }
}
