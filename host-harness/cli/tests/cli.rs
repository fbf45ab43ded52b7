//! The README's commands, run as a new user would, from the repository root: `serve` and
//! `call` of the Duck example, building the plugin crate first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

const CHATFLOW: &str = "a1b2c3d4-0000-4000-8000-000000000001";

/// The repository root, where a new user runs the README's commands.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

/// `dify-plugin-host`, run from the repository root, building guests into its `target/`.
fn host() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dify-plugin-host"));
    command.current_dir(root()).env_remove("CARGO_TARGET_DIR");
    command
}

/// `call` of the Duck example's README request.
fn call_duck() -> Command {
    let mut command = host();
    let target = format!("/duck/{CHATFLOW}?query=hello");
    command.args(["call", "examples/duck", "GET", &target]);
    command
}

#[test]
fn call_builds_the_duck_example_and_prints_its_streamed_events() {
    let output = call_duck().output().expect("run dify-plugin-host");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert_duck_events(stdout.trim_end());
}

/// The chatflow's nine events, as `{json} <br>` lines, echoing `hello`.
fn assert_duck_events(body: &str) {
    let events: Vec<serde_json::Value> = body
        .split(" <br>")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 9, "{body}");
    assert_eq!(events[3]["answer"], "hello");
    assert_eq!(events[8]["event"], "workflow_finished");
}

/// Kills the server when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_the_readme_curl_with_the_streamed_events() {
    let mut child = Child(
        host()
            .args(["serve", "examples/duck", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start dify-plugin-host serve"),
    );
    // The first line naming the address: "serving plugin duck on http://127.0.0.1:PORT".
    let stderr = child.0.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(url) = line.strip_prefix("serving plugin duck on http://") {
            break url.to_owned();
        }
    };

    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /duck/{CHATFLOW}?query=hello HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    // De-chunk: size line, data, CRLF, until the 0 chunk.
    let mut rest = body;
    let mut data = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            break;
        }
        data.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    assert_duck_events(&data);
}

#[test]
fn call_explains_a_plugin_path_that_does_not_exist() {
    let output = Command::new(env!("CARGO_BIN_EXE_dify-plugin-host"))
        .args(["call", "no/such/plugin", "GET", "/"])
        .output()
        .expect("run dify-plugin-host");
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "error: no/such/plugin is neither a .wasm component nor a plugin crate directory"
    );
}

#[test]
fn call_against_a_real_inner_api_takes_its_key_from_the_environment() {
    use std::net::TcpListener;
    let frames = std::fs::read(
        root().join("tests/fixtures/dify-1.13.2/inner-04-chat-streaming.resp.body.bin"),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A one-shot Dify: reads the request, answers with the recorded frames.
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut out = stream;
        write!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            frames.len()
        )
        .unwrap();
        out.write_all(&frames).unwrap();
        (
            head,
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        )
    });

    let output = call_duck()
        .args([
            "--backend",
            "inner",
            "--dify-url",
            &format!("http://{addr}"),
            "--tenant-id",
            "tenant-under-test",
        ])
        .env("DIFY_INNER_API_KEY", "key-from-env")
        .output()
        .expect("run dify-plugin-host");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert!(!stderr.contains("key-from-env"), "{stderr}");

    let (head, body) = server.join().unwrap();
    assert!(head.contains("x-inner-api-key: key-from-env"), "{head}");
    assert_eq!(body["tenant_id"], "tenant-under-test");
    assert_eq!(body["query"], "hello");
    // The recorded chatflow run (its query was "hello there") came back whole.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches(" <br>").count(), 9, "{stdout}");
    assert!(stdout.contains(r#""answer":"hello there""#), "{stdout}");
}
