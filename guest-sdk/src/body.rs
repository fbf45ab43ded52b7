//! The response body, complete or streamed, and the buffer a streamed body goes through.
//!
//! Pieces of a streamed body are gathered (up to [`FLUSH_AT`] bytes) and sent together, but
//! never held while the plugin waits on the host: every blocking host call goes through
//! [`host_call`], which sends them first.

use std::cell::RefCell;
use std::mem::ManuallyDrop;

use crate::error::Error;
use crate::wit::dify::plugin::http as wit;
use crate::wit::exports::dify::plugin::endpoint::HandlerError;

/// The items of a streamed body.
pub(crate) type BodyStream = Box<dyn Iterator<Item = Result<Vec<u8>, Error>>>;

/// A response body.
pub(crate) enum Body {
    Full(Vec<u8>),
    Stream(BodyStream),
}

/// Make a host call that may block: the buffered body goes out first, so the caller never
/// waits on Dify for bytes the plugin has already written.
pub(crate) fn host_call<T>(call: impl FnOnce() -> T) -> T {
    flush();
    call()
}

/// Write the body to the host's response writer, after the head.
pub(crate) fn write(body: Body, out: &wit::ResponseWriter) -> Result<(), HandlerError> {
    match body {
        Body::Full(bytes) => {
            if !bytes.is_empty()
                && let Err(e) = out.write(&bytes)
            {
                return closed_or_error(e);
            }
            Ok(())
        }
        Body::Stream(stream) => {
            let _installed = Output::install(out);
            for item in stream {
                match item {
                    Ok(bytes) => {
                        if let Some(stop) = Output::push(bytes) {
                            return stop;
                        }
                    }
                    Err(e) => {
                        // What came before the failure still goes out; then the body is cut.
                        flush();
                        return Err(e.into_handler_error());
                    }
                }
            }
            Output::finish()
        }
    }
}

/// A caller that went away is not the handler's failure: stop quietly.
pub(crate) fn closed_or_error(e: wit::WriteError) -> Result<(), HandlerError> {
    match e {
        wit::WriteError::Closed => Ok(()),
        wit::WriteError::OutOfOrder => Err(HandlerError::Internal(
            "the response was written out of order".into(),
        )),
        wit::WriteError::TooLarge(m) => Err(HandlerError::Internal(m)),
    }
}

/// Send the part of the response body written so far.
///
/// A streamed body is buffered and sent in pieces of up to [`FLUSH_AT`] bytes, so that a fast
/// stream costs a host call per piece rather than per item. Buffered bytes never wait on Dify:
/// the SDK flushes before every call that may wait on the host (the next app events, an app
/// invocation). Call this yourself before any other wait, if the caller should see what was
/// written so far. Outside a streamed body it does nothing.
pub fn flush() {
    OUTPUT.with(|output| {
        if let Some(output) = output.borrow_mut().as_mut() {
            output.flush();
        }
    });
}

/// Bytes of a streamed body buffered before they are sent without waiting for a flush.
pub const FLUSH_AT: usize = 16 * 1024;

thread_local! {
    /// The streamed body being written, while a handler's stream runs.
    static OUTPUT: RefCell<Option<Output>> = const { RefCell::new(None) };
}

struct Output {
    /// The handle of the host's `response-writer`, borrowed for the current `handle` call.
    writer: u32,
    buffered: Vec<u8>,
    /// How the last write failed, if it did: every later write is skipped.
    failed: Option<wit::WriteError>,
}

/// Removes the [`Output`] when the stream is done, however it ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        OUTPUT.with(|output| output.borrow_mut().take());
    }
}

impl Output {
    fn install(out: &wit::ResponseWriter) -> Installed {
        OUTPUT.with(|output| {
            *output.borrow_mut() = Some(Output {
                writer: out.handle(),
                buffered: Vec::new(),
                failed: None,
            });
        });
        Installed
    }

    /// Buffer `bytes`, sending when the buffer is full; `Some` to stop the body.
    fn push(bytes: Vec<u8>) -> Option<Result<(), HandlerError>> {
        OUTPUT.with(|output| {
            let mut output = output.borrow_mut();
            let output = output.as_mut()?;
            if output.buffered.is_empty() {
                output.buffered = bytes;
            } else {
                output.buffered.extend_from_slice(&bytes);
            }
            if output.buffered.len() >= FLUSH_AT {
                output.flush();
            }
            output.failed.clone().map(closed_or_error)
        })
    }

    /// Send what is left, and report how the writes went.
    fn finish() -> Result<(), HandlerError> {
        OUTPUT.with(|output| {
            let mut output = output.borrow_mut();
            let Some(output) = output.as_mut() else {
                return Ok(());
            };
            output.flush();
            output.failed.clone().map_or(Ok(()), closed_or_error)
        })
    }

    fn flush(&mut self) {
        if self.buffered.is_empty() || self.failed.is_some() {
            self.buffered.clear();
            return;
        }
        // SAFETY: the handle is the response writer borrowed by the `handle` call that is
        // running now (`Installed` clears it before that call returns). `ManuallyDrop` keeps
        // this view from dropping a resource the guest does not own.
        let writer = ManuallyDrop::new(unsafe { wit::ResponseWriter::from_handle(self.writer) });
        if let Err(e) = writer.write(&self.buffered) {
            self.failed = Some(e);
        }
        self.buffered.clear();
    }
}
