//! Threads that run requests, kept for reuse.
//!
//! A request runs on its own thread (the plugin blocks on upstream reads and on a slow
//! client, and must not hold up anyone else), but starting a thread costs tens of
//! microseconds, more than running a small request. Finished threads wait here for the next
//! request, and leave after a minute without one. There is no upper bound: concurrency is
//! capped by the instance allocator, not by the pool.
//!
//! Handing a request to a waiting thread is on every request's path, so it is kept to one
//! lock and at most one wake-up: the job goes into the thread's own mailbox and the thread is
//! unparked, which costs no system call if it has not gone to sleep yet. (A channel per thread,
//! as before, took its own locks to register and wake a receiver, and under load those were
//! contended.) The most recently idle thread gets the next job: its stack and caches are warm.
//!
//! Both ends of a hand-off spin briefly before they sleep ([`spin_briefly`]): a finished
//! thread waits a moment for its next job, and a reader for the plugin's next message. On the
//! virtual machines hosts run on, waking a thread whose CPU has gone idle costs 25–30 µs (the
//! wake-up is an interrupt into a halted virtual CPU), more than running a small request: a
//! request handed to a thread and answered back paid it twice. The spin yields the CPU at
//! every turn, so under load it gives way to whatever else is ready to run.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// How long an idle thread waits for work before it exits.
const IDLE: Duration = Duration::from_secs(60);

/// How long a waiting thread polls before it goes to sleep: about twice what waking it
/// would cost, and what a small request takes.
const SPIN: Duration = Duration::from_micros(50);

/// Poll `ready` for up to [`SPIN`], yielding the CPU between polls; `None` if it never was.
/// The caller then sleeps as it would have without this.
pub(crate) fn spin_briefly<T>(mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let since = Instant::now();
    loop {
        if let Some(got) = ready() {
            return Some(got);
        }
        if since.elapsed() >= SPIN {
            return None;
        }
        std::thread::yield_now();
    }
}

/// Where an idle thread's next job is put, and the thread to wake for it.
struct Mailbox {
    job: Mutex<Option<Job>>,
    thread: Thread,
}

#[derive(Default)]
pub(crate) struct Workers {
    /// Idle threads, the most recently idle last.
    idle: Mutex<Vec<Arc<Mailbox>>>,
}

/// A poisoned lock only means a panic elsewhere; the data (a list, a slot) is still whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Workers {
    /// Run `job` on an idle thread, or on a new one.
    pub(crate) fn run(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let idle = lock(&self.idle).pop();
        let Some(mailbox) = idle else {
            return self.spawn(job);
        };
        // A thread off the idle list waits for its mailbox until it gets a job (`wait`), so
        // this job is always run.
        *lock(&mailbox.job) = Some(job);
        mailbox.thread.unpark();
        Ok(())
    }

    fn spawn(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let workers = self.clone();
        std::thread::Builder::new()
            .name("dify-plugin-worker".into())
            .spawn(move || workers.work(job))
            .map(drop)
    }

    fn work(self: Arc<Self>, first: Job) {
        let mailbox = Arc::new(Mailbox {
            job: Mutex::new(None),
            thread: std::thread::current(),
        });
        let mut job = first;
        loop {
            // A panic here is a host bug; it fails that request only (its reader sees the
            // channel close), and the thread goes on serving.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                log::error!(target: "dify_plugin_host::runtime", "a request's thread panicked; the request failed");
            }
            lock(&self.idle).push(mailbox.clone());
            match self.wait(&mailbox) {
                Some(next) => job = next,
                None => return,
            }
        }
    }

    /// The next job put in `mailbox`; `None` once the thread has waited `IDLE` for one and has
    /// taken itself off the idle list.
    fn wait(&self, mailbox: &Arc<Mailbox>) -> Option<Job> {
        if let Some(job) = spin_briefly(|| lock(&mailbox.job).take()) {
            return Some(job);
        }
        let since = Instant::now();
        loop {
            // Parking can end early (an unpark meant for an earlier wait, or none at all), so
            // the mailbox says whether there is work.
            if let Some(job) = lock(&mailbox.job).take() {
                return Some(job);
            }
            let left = IDLE.saturating_sub(since.elapsed());
            if !left.is_zero() {
                std::thread::park_timeout(left);
                continue;
            }
            let mut idle = lock(&self.idle);
            if let Some(at) = idle.iter().position(|m| Arc::ptr_eq(m, mailbox)) {
                // Off the list, nobody can hand this thread a job any more.
                idle.remove(at);
                return None;
            }
            // Someone took this thread off the list: their job is on its way.
            drop(idle);
            loop {
                if let Some(job) = lock(&mailbox.job).take() {
                    return Some(job);
                }
                std::thread::park();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn jobs_run_and_finished_threads_are_reused() {
        let workers = Arc::new(Workers::default());
        let (tx, rx) = channel();
        let threads: std::collections::HashSet<_> = (0..100)
            .map(|i| {
                let tx = tx.clone();
                workers
                    .run(Box::new(move || {
                        tx.send((i, std::thread::current().id())).unwrap()
                    }))
                    .unwrap();
                // One at a time: each job finds idle the thread the last one ran on, unless
                // it has not gone back to the list yet.
                let (done, thread) = rx.recv().unwrap();
                assert_eq!(done, i);
                thread
            })
            .collect();
        assert!(threads.len() < 100, "no thread was reused");
    }

    #[test]
    fn a_panicking_job_leaves_its_thread_serving() {
        let workers = Arc::new(Workers::default());
        let (tx, rx) = channel();
        workers.run(Box::new(|| panic!("a host bug"))).unwrap();
        for i in 0..10 {
            let tx = tx.clone();
            workers.run(Box::new(move || tx.send(i).unwrap())).unwrap();
            assert_eq!(rx.recv().unwrap(), i);
        }
    }
}
