//! Backends for measuring the host, not the mock: they hand out prepared JSON text, as the
//! peer benchmark's fake daemon writes prepared lines.

use std::sync::{Arc, Condvar, Mutex};

use dify_plugin_host::backend::{Event, EventStream, Reply};
use dify_plugin_host::{AppError, AppRequest, Backend, CallContext, ResponseMode};

/// One chat `message` event: the peer's event (`../shared/peer/bench.py`), compact, 143 bytes.
pub const EVENT: &str = r#"{"event":"message","answer":"tok","conversation_id":"5ad4cb98-f0c7-4085-b384-88c403be6290","message_id":"9da23599-e713-473b-982c-4328d4b5c78b"}"#;

/// The peer's blocking reply, compact.
pub const BLOCKING: &str = r#"{"event":"message","task_id":"c3800678-a077-43df-a102-53f23ed20b88","id":"9da23599-e713-473b-982c-4328d4b5c78b","message_id":"9da23599-e713-473b-982c-4328d4b5c78b","conversation_id":"5ad4cb98-f0c7-4085-b384-88c403be6290","mode":"chat","answer":"Hello! How can I help you today?","metadata":{"usage":{"prompt_tokens":10,"completion_tokens":9,"total_tokens":19}},"created_at":1705407629}"#;

/// Streams `EVENT` `count` times; answers blocking calls with `BLOCKING`.
pub struct Repeat {
    pub count: usize,
}

struct RepeatStream {
    left: usize,
}

impl Backend for Repeat {
    fn invoke(&self, _: &CallContext, req: AppRequest) -> Result<Reply, AppError> {
        Ok(match req.response_mode {
            ResponseMode::Blocking => Reply::Blocking(BLOCKING.to_owned()),
            ResponseMode::Streaming => {
                Reply::Streaming(Box::new(RepeatStream { left: self.count }))
            }
        })
    }
}

impl EventStream for RepeatStream {
    fn next_ready(&mut self) -> Option<Result<Option<Event>, AppError>> {
        Some(self.next_event())
    }

    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        Ok(Some(Event {
            name: "message".to_owned(),
            json: EVENT.to_owned(),
        }))
    }
}

/// Streams whose first `next` waits until released: holds instances alive to measure them.
#[derive(Clone, Default)]
pub struct Hold {
    state: Arc<(Mutex<(usize, bool)>, Condvar)>,
}

struct HeldStream {
    hold: Hold,
    done: bool,
}

impl Hold {
    /// Wait until `n` streams are held.
    pub fn wait_for(&self, n: usize) {
        let (lock, cv) = &*self.state;
        let guard = lock.lock().unwrap();
        drop(cv.wait_while(guard, |(held, _)| *held < n).unwrap());
    }

    /// Let them all finish.
    pub fn release(&self) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().1 = true;
        cv.notify_all();
    }
}

impl Backend for Hold {
    fn invoke(&self, _: &CallContext, _: AppRequest) -> Result<Reply, AppError> {
        Ok(Reply::Streaming(Box::new(HeldStream {
            hold: self.clone(),
            done: false,
        })))
    }
}

impl EventStream for HeldStream {
    fn next_event(&mut self) -> Result<Option<Event>, AppError> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let (lock, cv) = &*self.hold.state;
        let mut state = lock.lock().unwrap();
        state.0 += 1;
        cv.notify_all();
        drop(cv.wait_while(state, |(_, released)| !*released).unwrap());
        Ok(Some(Event {
            name: "message".to_owned(),
            json: EVENT.to_owned(),
        }))
    }
}
