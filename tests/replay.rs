//! A replay server on 127.0.0.1: answers each connection with the next scripted reply —
//! usually a recorded Dify response, byte for byte, cut into chosen chunk sizes — and records
//! what it received and whether the client hung up.

use crate::support::fixtures;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;

/// How a reply's body is cut into HTTP chunks.
#[derive(Clone, Copy, Debug)]
pub enum Pieces {
    Whole,
    Every(usize),
    /// The body is already in chunked encoding, as recorded on the wire (`*-RAWWIRE-*`):
    /// written verbatim, final chunk included.
    Raw,
}

/// How a reply ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ending {
    /// The final empty chunk: a complete response.
    Finish,
    /// The connection closes without the final chunk.
    Drop,
    /// Nothing more is sent; the server waits for the client to hang up.
    Stall,
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub status_line: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub pieces: Pieces,
    pub ending: Ending,
}

impl Reply {
    pub fn new(status_line: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status_line: status_line.to_owned(),
            content_type: content_type.to_owned(),
            body: body.into(),
            pieces: Pieces::Whole,
            ending: Ending::Finish,
        }
    }

    pub fn pieces(mut self, pieces: Pieces) -> Self {
        self.pieces = pieces;
        self
    }

    pub fn ending(mut self, ending: Ending) -> Self {
        self.ending = ending;
        self
    }
}

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON request body")
    }
}

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    hangups: Mutex<usize>,
    hung_up: Condvar,
}

pub struct Replay {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Replay {
    pub fn start(replies: Vec<Reply>) -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            replies: Mutex::new(replies.into()),
            ..Default::default()
        });
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = serving.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Replay { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Wait until a client hung up on a stalled reply.
    pub fn wait_hangup(&self, timeout: Duration) -> bool {
        let hangups = self.shared.hangups.lock().unwrap();
        let (hangups, _) = self
            .shared
            .hung_up
            .wait_timeout_while(hangups, timeout, |n| *n == 0)
            .unwrap();
        *hangups > 0
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    shared.received.lock().unwrap().push(Received {
        path,
        headers,
        body,
    });

    let reply = shared.replies.lock().unwrap().pop_front();
    let reply = reply.unwrap_or_else(|| {
        Reply::new(
            "HTTP/1.1 500 INTERNAL SERVER ERROR",
            "text/plain",
            "no reply scripted",
        )
    });
    let mut out = stream;
    let head = format!(
        "{}\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        reply.status_line, reply.content_type
    );
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let size = match reply.pieces {
        Pieces::Whole => reply.body.len().max(1),
        Pieces::Every(n) => n,
        Pieces::Raw => {
            let _ = out.write_all(&reply.body);
            return;
        }
    };
    for piece in reply.body.chunks(size) {
        let chunk = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        if out.write_all(&chunk).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
    match reply.ending {
        Ending::Finish => {
            let _ = out.write_all(b"0\r\n\r\n");
        }
        Ending::Drop => {
            let _ = out.shutdown(Shutdown::Both);
        }
        Ending::Stall => {
            out.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = [0; 64];
            if matches!(out.read(&mut buf), Ok(0) | Err(_)) {
                *shared.hangups.lock().unwrap() += 1;
                shared.hung_up.notify_all();
            }
        }
    }
}

fn read(case: &str, suffix: &str) -> Option<Vec<u8>> {
    std::fs::read(fixtures().join(format!("{case}.{suffix}"))).ok()
}

/// A recorded response, served byte for byte.
pub fn recorded(case: &str) -> Reply {
    let headers = String::from_utf8(read(case, "resp.headers.txt").expect("headers")).unwrap();
    let status_line = headers.lines().next().unwrap().to_owned();
    let content_type = headers
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("application/json")
        .to_owned();
    let body = ["resp.body.bin", "resp.body.json", "resp.body.txt"]
        .iter()
        .find_map(|suffix| read(case, suffix))
        .expect("a recorded body");
    Reply::new(&status_line, &content_type, body)
}

/// The JSON body of a recorded request; `{}` for the case that sent invalid JSON on purpose
/// (`inner-31`).
pub fn recorded_request(case: &str) -> Value {
    let text = String::from_utf8(read(case, "req.txt").expect("request")).unwrap();
    let (_, body) = text.split_once("\n\n").expect("a request body");
    serde_json::from_str(body.trim()).unwrap_or_else(|_| Value::Object(Default::default()))
}

/// The events (or the blocking reply) a recorded case carries, in order.
pub fn recorded_data(case: &str) -> Vec<Value> {
    if let Some(frames) = read(case, "resp.frames.json") {
        let frames: Vec<Value> = serde_json::from_slice(&frames).unwrap();
        return frames
            .into_iter()
            .map(|f| f["payload"]["data"].clone())
            .collect();
    }
    if let Some(json) = read(case, "resp.body.json") {
        return vec![serde_json::from_slice(&json).unwrap()];
    }
    let text = String::from_utf8(read(case, "resp.body.txt").expect("an SSE body")).unwrap();
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}
