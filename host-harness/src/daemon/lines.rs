//! The daemon's lines on one connection, cut from what reads of it return, without ever
//! blocking: a read is made only when `poll` says the connection is readable (or at its end),
//! so whichever thread holds the lines can read them without stalling the others. The
//! connection (`connection.rs`) has the reading thread wait for readability outside the lock,
//! and lets a call waiting for its answer read and handle the lines itself meanwhile: one
//! thread, not two, between the daemon's answer and the plugin.

use std::io::Read;
use std::os::fd::AsFd;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// How much one read may take: a stream's lines come in bursts.
const READ_BUFFER: usize = 256 << 10;
/// The longest line read from the daemon: a 10 MiB body is 20 MiB of hex, plus the rest.
const MAX_LINE: usize = 32 << 20;
/// A `poll` timeout of nothing: whether the connection is readable now.
pub(crate) const NOW: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// What the connection is read from: a TCP stream, or standard input.
pub(crate) trait Source: Read + AsFd + Send {}

impl<T: Read + AsFd + Send> Source for T {}

/// The next line, if there is one without waiting.
pub(crate) enum Next<'a> {
    /// A whole line, with its `\n`.
    Line(&'a [u8]),
    /// Nothing more until the connection is readable again.
    Empty,
    /// The daemon closed the connection (a last line without `\n` came before).
    Ended,
}

pub(crate) struct Lines {
    /// `None` once the connection is over ([`Lines::close`]).
    source: Option<Box<dyn Source>>,
    /// Read bytes are `buf[start..end]`; `buf` is never shrunk.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How far from `start` there is surely no `\n`.
    searched: usize,
    /// Dropping the rest of a line longer than [`MAX_LINE`].
    skipping: bool,
    ended: bool,
    /// The read that failed, which ends the connection.
    failed: Option<(std::io::ErrorKind, String)>,
}

impl Lines {
    pub(crate) fn new(source: Box<dyn Source>) -> Self {
        Lines {
            source: Some(source),
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            searched: 0,
            skipping: false,
            ended: false,
            failed: None,
        }
    }

    /// Whether the connection has bytes (or its end) to read, waiting up to `timeout`
    /// (`None`: as long as it takes). A closed one has its end.
    pub(crate) fn readable(&self, timeout: Option<&Timespec>) -> bool {
        self.source
            .as_ref()
            .is_none_or(|source| readable(source, timeout))
    }

    /// The connection, to wait on with [`readable`] without holding the lines.
    pub(crate) fn source_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        match &self.source {
            Some(source) => source.as_fd().try_clone_to_owned(),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// The connection is over: let go of it now (the sessions still running keep these
    /// lines, not the socket); what follows is the end.
    pub(crate) fn close(&mut self) {
        self.source = None;
        self.ended = true;
    }

    /// The next whole line: one already read, else one from a single read, made only if
    /// the connection is readable now. A line of more than [`MAX_LINE`] bytes is skipped
    /// (and said).
    pub(crate) fn next(&mut self) -> std::io::Result<Next<'_>> {
        if let Some((kind, text)) = &self.failed {
            return Err(std::io::Error::new(*kind, text.clone()));
        }
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf[self.start + self.searched..self.end])
            {
                let line_end = self.start + self.searched + at + 1;
                let line = self.start..line_end;
                self.start = line_end;
                self.searched = 0;
                if std::mem::take(&mut self.skipping) {
                    continue;
                }
                if line.len() > MAX_LINE + 1 {
                    too_long();
                    continue;
                }
                return Ok(Next::Line(&self.buf[line]));
            }
            self.searched = self.end - self.start;
            if self.ended {
                return Ok(Next::Ended);
            }
            if self.searched > MAX_LINE {
                if !self.skipping {
                    too_long();
                }
                self.skipping = true;
                self.start = self.end;
                self.searched = 0;
            }
            if !self.readable(Some(&NOW)) {
                return Ok(Next::Empty);
            }
            self.make_room();
            let Some(source) = self.source.as_mut() else {
                self.ended = true;
                continue;
            };
            let read = match source.read(&mut self.buf[self.end..]) {
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Whichever thread reads next meets it too: the reading thread ends the
                    // connection with it.
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            };
            if read == 0 {
                self.ended = true;
                // A last line without its `\n` is still a line.
                if self.end > self.start && !self.skipping {
                    let line = self.start..self.end;
                    self.start = self.end;
                    self.searched = 0;
                    return Ok(Next::Line(&self.buf[line]));
                }
                return Ok(Next::Ended);
            }
            self.end += read;
        }
    }

    /// Room for a read of [`READ_BUFFER`] bytes after `end`: what was read and not taken
    /// moves to the front, and the buffer grows only for a line longer than it.
    fn make_room(&mut self) {
        if self.buf.len() - self.end >= READ_BUFFER {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() - self.end < READ_BUFFER {
            self.buf.resize(self.end + READ_BUFFER, 0);
        }
    }
}

fn too_long() {
    log::warn!(target: "dify_plugin_host::daemon", "skipping a line of more than {MAX_LINE} bytes from the daemon");
}

/// Whether `fd` has bytes (or its end) to read, waiting up to `timeout` (`None`: as long as
/// it takes).
pub(crate) fn readable(fd: &impl AsFd, timeout: Option<&Timespec>) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    matches!(poll(&mut fds, timeout), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn lines(lines: &mut Lines) -> Vec<String> {
        let mut got = Vec::new();
        while let Next::Line(line) = lines.next().unwrap() {
            got.push(String::from_utf8_lossy(line).into_owned());
        }
        got
    }

    #[test]
    fn lines_come_whole_whatever_the_reads_return() {
        let (mut daemon, plugin) = UnixStream::pair().unwrap();
        let mut input = Lines::new(Box::new(plugin));
        daemon.write_all(b"one\ntw").unwrap();
        assert_eq!(lines(&mut input), ["one\n"]);
        // Nothing more to read: no wait.
        assert!(matches!(input.next().unwrap(), Next::Empty));
        daemon.write_all(b"o\nthree").unwrap();
        assert_eq!(lines(&mut input), ["two\n"]);
        drop(daemon);
        assert_eq!(lines(&mut input), ["three"]);
        assert!(matches!(input.next().unwrap(), Next::Ended));
    }

    #[test]
    fn a_line_longer_than_the_limit_is_skipped_and_the_next_is_read() {
        let (mut daemon, plugin) = UnixStream::pair().unwrap();
        let mut input = Lines::new(Box::new(plugin));
        let writer = std::thread::spawn(move || {
            daemon.write_all(&vec![b'x'; MAX_LINE + 10]).unwrap();
            daemon.write_all(b"\nafter\n").unwrap();
        });
        let line = loop {
            match input.next().unwrap() {
                Next::Line(line) => break line.to_vec(),
                Next::Empty => assert!(input.readable(None)),
                Next::Ended => panic!("ended"),
            }
        };
        writer.join().unwrap();
        assert!(line == b"after\n", "a line of {} bytes", line.len());
        assert!(input.buf.len() <= MAX_LINE + 2 * READ_BUFFER);
    }
}
