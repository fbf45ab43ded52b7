//! Remote debugging: the plugin connects to the daemon's debug port with a key from the
//! workspace's plugin page, registers (daemon-protocol.md §2.2, §2.8), and then serves the
//! daemon's requests on that connection; a dropped connection is reconnected with backoff.
//!
//! Registration: `handshake` (within the daemon's 10 s), `manifest_declaration` (before any
//! component declaration: it overwrites them), a `tool_declaration` if the plugin has a tool
//! provider, an `endpoint_declaration` if it has an endpoint group (in the Python SDK's
//! order), an `asset_chunk` per asset, `end`. The daemon acknowledges nothing; it refuses with one text line and a
//! close. So after `end` the host waits briefly for such a line before it calls the plugin
//! registered, and any text line before the first request is a refusal: said, with what to do,
//! and the end of this run (a reconnect would only be refused again).

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use super::connection::{self, Writer};
use super::declaration::Declaration;
use super::protocol;
use crate::backend::Secret;
use crate::runtime::Plugin;

/// How long a refusal may take to arrive after `end`.
const REFUSAL_WAIT: Duration = Duration::from_millis(1500);
/// The largest piece of an asset per `asset_chunk` (the Python SDK's 8 KiB).
const ASSET_CHUNK: usize = 8 << 10;
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the daemon's debug port is and the key it takes.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// `host:port` of the daemon's remote-install endpoint (Dify shows it on the debug page).
    pub address: String,
    /// The debug key from the workspace's Plugins → Debug page.
    pub key: Secret,
    /// Try again after the connection drops (true for `debug`).
    pub reconnect: bool,
}

/// Why remote debugging stopped.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The daemon refused the registration; the text says what it said and what to do.
    #[error("{0}")]
    Refused(String),
    /// The daemon could not be reached at all.
    #[error("cannot reach the daemon at {address}: {reason}")]
    Unreachable {
        /// The address tried.
        address: String,
        /// Why.
        reason: String,
    },
}

/// Register `plugin` with the daemon and serve its requests, reconnecting when the connection
/// drops (with `reconnect`). Returns only when the daemon refuses the plugin, or, without
/// `reconnect`, when the connection ends.
pub fn debug(
    plugin: &Plugin,
    declaration: &Declaration,
    options: &RemoteOptions,
) -> Result<(), RemoteError> {
    let mut backoff = Duration::from_secs(1);
    let mut served_once = false;
    loop {
        match connect(&options.address) {
            Ok(stream) => {
                backoff = Duration::from_secs(1);
                let outcome = register(&stream, declaration, &options.key)?;
                eprintln!(
                    "registered {}/{} with the daemon at {}{}",
                    declaration.author(),
                    declaration.name(),
                    options.address,
                    outcome
                );
                served_once = true;
                let input = stream.try_clone().map_err(|e| unreachable(options, &e))?;
                let writer = Writer::new(Box::new(stream));
                let served = connection::Served {
                    plugin,
                    tools: declaration.tool_provider(),
                };
                let ended = connection::serve(served, input, writer);
                if !options.reconnect {
                    return Ok(());
                }
                match ended {
                    Ok(()) => eprintln!("the daemon closed the connection; reconnecting"),
                    Err(e) => eprintln!("the connection to the daemon broke ({e}); reconnecting"),
                }
            }
            Err(e) if !served_once && !options.reconnect => return Err(unreachable(options, &e)),
            Err(e) => {
                eprintln!(
                    "cannot reach the daemon at {} ({e}); trying again in {} s",
                    options.address,
                    backoff.as_secs()
                );
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn unreachable(options: &RemoteOptions, e: &std::io::Error) -> RemoteError {
    RemoteError::Unreachable {
        address: options.address.clone(),
        reason: e.to_string(),
    }
}

fn connect(address: &str) -> std::io::Result<TcpStream> {
    let target = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(ErrorKind::NotFound, "no address"))?;
    let stream = TcpStream::connect_timeout(&target, Duration::from_secs(10))?;
    // One message is one write: without this, Nagle and delayed ACKs cost ~40 ms a round trip.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The registration messages, in the order the daemon needs them.
fn registration(declaration: &Declaration, key: &Secret) -> Vec<Value> {
    let mut messages = vec![
        protocol::registration("handshake", json!({"key": key.expose()})),
        protocol::registration("manifest_declaration", declaration.manifest.clone()),
    ];
    if let Some(provider) = declaration.tool_declaration() {
        messages.push(protocol::registration(
            "tool_declaration",
            json!([provider]),
        ));
    }
    if let Some(group) = &declaration.endpoint_group {
        messages.push(protocol::registration(
            "endpoint_declaration",
            json!([group]),
        ));
    }
    let base64 = base64::engine::general_purpose::STANDARD;
    for asset in &declaration.assets {
        let pieces: Vec<&[u8]> = asset.bytes.chunks(ASSET_CHUNK).collect();
        for (i, piece) in pieces.iter().enumerate() {
            messages.push(protocol::registration(
                "asset_chunk",
                json!({"filename": asset.name, "data": base64.encode(piece), "end": i + 1 == pieces.len()}),
            ));
        }
    }
    messages.push(protocol::registration("end", json!({})));
    messages
}

/// Send the registration, then wait briefly for a refusal. `Ok` says how it went.
fn register(
    stream: &TcpStream,
    declaration: &Declaration,
    key: &Secret,
) -> Result<&'static str, RemoteError> {
    let writer = Writer::new(Box::new(stream.try_clone().map_err(refused_io)?));
    for message in registration(declaration, key) {
        if let Err(e) = writer.send(&message) {
            // The daemon may have refused and closed already: its line says why.
            return Err(refusal(stream).unwrap_or_else(|| refused_io(e)));
        }
    }
    match refusal(stream) {
        Some(refused) => Err(refused),
        None => Ok(""),
    }
}

fn refused_io(e: std::io::Error) -> RemoteError {
    RemoteError::Refused(format!(
        "the daemon closed the connection during registration: {e}"
    ))
}

/// A refusal line, if the daemon sends one within [`REFUSAL_WAIT`]. Nothing is consumed
/// unless it is one: the daemon's first request may already be there.
fn refusal(stream: &TcpStream) -> Option<RemoteError> {
    stream.set_read_timeout(Some(REFUSAL_WAIT)).ok()?;
    let mut first = [0u8; 1];
    let result = match stream.peek(&mut first) {
        Ok(0) => Some(RemoteError::Refused(
            "the daemon closed the connection during registration, without a reason".into(),
        )),
        // JSON: the daemon's first request, so the registration was accepted.
        Ok(_) if first[0] == b'{' => None,
        Ok(_) => {
            let mut line = String::new();
            let _ = BufReader::new(stream).read_line(&mut line);
            Some(RemoteError::Refused(explain(line.trim())))
        }
        // Nothing within the wait: accepted (the daemon acknowledges nothing).
        Err(_) => None,
    };
    let _ = stream.set_read_timeout(None);
    result
}

/// The daemon's refusal, with what to do about it.
fn explain(line: &str) -> String {
    let advice = if line.contains("invalid key") {
        "get a new debug key from the workspace's Plugins → Debug page in Dify (keys expire after \
         2 hours without use) and pass it with --key or REMOTE_INSTALL_KEY"
    } else if line.contains("invalid plugin declaration") || line.contains("assets remap failed") {
        "fix the plugin's manifest.yaml, endpoint group, tool provider or _assets/ as the \
         message says"
    } else if line.contains("server is busy") {
        "the daemon has as many debug connections as it takes; try again later"
    } else {
        "check the daemon's address and key"
    };
    format!("the daemon refused the plugin: {line}\n  {advice}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::declaration::tests::{peer_plugin, plugin_with};

    fn kinds(declaration: &Declaration) -> Vec<String> {
        registration(declaration, &Secret::new("key"))
            .iter()
            .map(|m| m["type"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn declarations_are_sent_in_the_python_sdks_order_and_only_when_declared() {
        let endpoints = plugin_with(&[], &[]).load().unwrap();
        assert_eq!(
            kinds(&endpoints),
            [
                "handshake",
                "manifest_declaration",
                "endpoint_declaration",
                "asset_chunk",
                "end"
            ]
        );

        let mut tools = peer_plugin().load().unwrap();
        let messages = registration(&tools, &Secret::new("key"));
        assert_eq!(
            kinds(&tools),
            [
                "handshake",
                "manifest_declaration",
                "tool_declaration",
                "asset_chunk",
                "end"
            ]
        );
        assert_eq!(
            messages[2]["data"],
            json!([tools.tool_declaration().unwrap()])
        );

        tools.endpoint_group = endpoints.endpoint_group.clone();
        let messages = registration(&tools, &Secret::new("key"));
        assert_eq!(
            kinds(&tools),
            [
                "handshake",
                "manifest_declaration",
                "tool_declaration",
                "endpoint_declaration",
                "asset_chunk",
                "end"
            ]
        );
        assert_eq!(
            messages[3]["data"],
            json!([endpoints.endpoint_group.unwrap()])
        );
    }
}
