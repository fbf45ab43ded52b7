//! A small HTTP/1.1 client over a raw `TcpStream`, so tests control exactly when they read and
//! when they hang up, and can see a chunked body piece by piece (and see it cut).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

/// A response whose body has not been read yet.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    chunked: bool,
}

/// Send one request (`Connection: close`) and read the head.
pub fn send(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(body).expect("write body");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header line");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').expect("header");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v == "chunked");
    Response {
        status,
        headers,
        reader,
        chunked,
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next piece of a chunked body; `Ok(None)` at its proper end, `Err` if the
    /// connection ends first (a cut body).
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        assert!(self.chunked, "not a chunked response");
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let size = usize::from_str_radix(line.trim_end(), 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        Ok((size > 0).then_some(chunk))
    }

    /// The whole body as text; panics if it was cut.
    pub fn text(mut self) -> String {
        let mut body = Vec::new();
        if self.chunked {
            while let Some(chunk) = self.next_chunk().expect("a complete body") {
                body.extend(chunk);
            }
        } else {
            self.reader.read_to_end(&mut body).expect("body");
        }
        String::from_utf8(body).expect("UTF-8 body")
    }
}
