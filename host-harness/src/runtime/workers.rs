//! Threads that run requests, kept for reuse.
//!
//! A request runs on its own thread (the plugin blocks on upstream reads and on a slow
//! client, and must not hold up anyone else), but starting a thread costs tens of
//! microseconds, more than running a small request. Finished threads wait here for the next
//! request, and leave after a minute without one. There is no upper bound: concurrency is
//! capped by the instance allocator, not by the pool.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send>;

/// How long an idle thread waits for work before it exits.
const IDLE: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct Workers {
    /// Idle threads, by the sender that hands them their next job.
    idle: Mutex<Vec<(u64, SyncSender<Job>)>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Workers {
    /// Run `job` on an idle thread, or on a new one.
    pub(crate) fn run(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        if let Some((_, worker)) = idle {
            // An idle worker waits on its channel until it has left the idle list itself,
            // so this send always reaches a live thread.
            if let Err(returned) = worker.send(job) {
                return self.spawn(returned.0);
            }
            return Ok(());
        }
        self.spawn(job)
    }

    fn spawn(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let workers = self.clone();
        std::thread::Builder::new()
            .name("dify-plugin-worker".into())
            .spawn(move || workers.work(job))
            .map(drop)
    }

    fn work(self: Arc<Self>, first: Job) {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx): (SyncSender<Job>, Receiver<Job>) = sync_channel(1);
        let mut job = first;
        loop {
            // A panic here is a host bug; it fails that request only (its reader sees the
            // channel close), and the thread goes on serving.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                log::error!(target: "dify_plugin_host::runtime", "a request's thread panicked; the request failed");
            }
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id, tx.clone()));
            job = match rx.recv_timeout(IDLE) {
                Ok(next) => next,
                Err(_) => {
                    let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    match idle.iter().position(|(i, _)| *i == id) {
                        // Still listed: nobody can send to us any more once removed.
                        Some(at) => {
                            idle.swap_remove(at);
                            return;
                        }
                        // Someone took us off the list: their job is on its way.
                        None => {
                            drop(idle);
                            match rx.recv() {
                                Ok(next) => next,
                                Err(_) => return,
                            }
                        }
                    }
                }
            };
        }
    }
}
