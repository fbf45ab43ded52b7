//! A small HTTP/1.1 load generator: C keep-alive connections, each sending the next request
//! as soon as the previous response (chunked) has fully arrived, for a fixed time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Requests done and each one's latency.
pub struct LoadResult {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(i).copied().unwrap_or_default()
    }
}

pub fn run(addr: SocketAddr, path: &str, connections: usize, duration: Duration) -> LoadResult {
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let path = path.to_owned();
            std::thread::spawn(move || connection(addr, &path, deadline))
        })
        .collect();
    let mut result = LoadResult {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for worker in workers {
        let (latencies, errors) = worker.join().expect("load worker");
        result.requests += latencies.len();
        result.errors += errors;
        result.latencies.extend(latencies);
    }
    result.elapsed = start.elapsed();
    result
}

fn connection(addr: SocketAddr, path: &str, deadline: Instant) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n");
    let Ok(stream) = TcpStream::connect(addr) else {
        return (latencies, 1);
    };
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    while Instant::now() < deadline {
        let sent = Instant::now();
        if writer.write_all(request.as_bytes()).is_err() || !read_response(&mut reader) {
            errors += 1;
            break;
        }
        latencies.push(sent.elapsed());
    }
    (latencies, errors)
}

/// Read one 200 response with a chunked body; false on anything else.
fn read_response(reader: &mut BufReader<TcpStream>) -> bool {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 || !line.starts_with("HTTP/1.1 200") {
        return false;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        let Ok(size) = usize::from_str_radix(line.trim_end(), 16) else {
            return false;
        };
        body.resize(size + 2, 0);
        if reader.read_exact(&mut body).is_err() {
            return false;
        }
        if size == 0 {
            return true;
        }
    }
}

/// Send `total` requests over `connections` keep-alive connections, as fast as they are
/// answered; keeps no latencies (a soak must not grow its own memory). Returns the requests
/// answered with a complete 200, the failures, and the time taken.
pub fn run_count(
    addr: SocketAddr,
    path: &str,
    connections: usize,
    total: usize,
) -> (usize, usize, Duration) {
    let start = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|i| {
            let path = path.to_owned();
            let share = total / connections + usize::from(i < total % connections);
            std::thread::spawn(move || {
                let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n");
                let (mut ok, mut failed) = (0, 0);
                let mut connection: Option<(TcpStream, BufReader<TcpStream>)> = None;
                for _ in 0..share {
                    if connection.is_none() {
                        connection = TcpStream::connect(addr).ok().map(|s| {
                            let _ = s.set_nodelay(true);
                            (s.try_clone().expect("clone"), BufReader::new(s))
                        });
                    }
                    let Some((writer, reader)) = connection.as_mut() else {
                        failed += 1;
                        continue;
                    };
                    if writer.write_all(request.as_bytes()).is_ok() && read_response(reader) {
                        ok += 1;
                    } else {
                        failed += 1;
                        connection = None;
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for worker in workers {
        let (o, f) = worker.join().expect("soak worker");
        ok += o;
        failed += f;
    }
    (ok, failed, start.elapsed())
}
