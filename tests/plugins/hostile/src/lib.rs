//! A hostile plugin: each path tries one thing a plugin must not be able to do, and answers
//! with what it got, so the tests can check that every attempt failed.
//!
//! `GET /env`, `/files`, `/sockets?addr=host:port`, `/dns`, `/clock-and-random`,
//! `/log-flood?lines=N`, `/print-flood`, `/big?bytes=N`, `/other-workspace?app_id=...`,
//! `/stream-flood`, `/spin-in-stream`.

use dify_plugin::prelude::*;

struct Hostile;

impl Endpoint for Hostile {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/<what>";

    fn invoke(req: Request, values: Values, _: Settings) -> Result<Response, Error> {
        let number = |name: &str, default: u64| -> u64 {
            req.query(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        match values.get("what")? {
            "env" => Response::json(
                200,
                &json!({
                    "vars": std::env::vars().collect::<Vec<_>>(),
                    "home": std::env::var("HOME").ok(),
                    "args": std::env::args().collect::<Vec<_>>(),
                }),
            ),
            "files" => {
                let attempts = ["/", "/etc/passwd", ".", "/proc/self/environ", "../../.."];
                let results: Vec<Value> = attempts
                    .iter()
                    .map(|path| {
                        json!({
                            "path": path,
                            "read": std::fs::read(path).map(|b| b.len()).map_err(|e| e.to_string()),
                            "list": std::fs::read_dir(path).map(|d| d.count()).map_err(|e| e.to_string()),
                            "create": std::fs::write(format!("{path}/x"), b"x").map_err(|e| e.to_string()),
                        })
                    })
                    .collect();
                Response::json(200, &results)
            }
            "sockets" => {
                let addr = req.query("addr").unwrap_or_else(|| "127.0.0.1:80".into());
                let tcp = std::net::TcpStream::connect(&addr)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let udp = std::net::UdpSocket::bind("0.0.0.0:0")
                    .and_then(|s| s.send_to(b"x", &addr))
                    .map_err(|e| e.to_string());
                let listen = std::net::TcpListener::bind("0.0.0.0:0")
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                Response::json(200, &json!({"tcp": tcp, "udp": udp, "listen": listen}))
            }
            "dns" => {
                use std::net::ToSocketAddrs;
                let lookup = "localhost:80"
                    .to_socket_addrs()
                    .map(|a| a.count())
                    .map_err(|e| e.to_string());
                Response::json(200, &json!({"lookup": lookup}))
            }
            "clock-and-random" => {
                // Granted on purpose (timestamps, nonces): they must work, not crash.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let random = std::collections::hash_map::RandomState::new();
                let _ = std::hint::black_box(random);
                Response::json(200, &json!({"unix_seconds": now}))
            }
            "log-flood" => {
                let lines = number("lines", 100_000);
                for i in 0..lines {
                    log::info!("flood line {i} {}", "x".repeat(100));
                }
                log::error!("{}", "y".repeat(1 << 20));
                Ok(Response::text(200, format!("logged {lines} lines")))
            }
            "print-flood" => {
                for i in 0..100_000 {
                    println!("print flood line {i}");
                }
                Ok(Response::text(200, "printed"))
            }
            "big" => {
                let bytes = number("bytes", 1 << 30);
                let piece = vec![b'z'; 64 << 10];
                let pieces = bytes.div_ceil(piece.len() as u64);
                Ok(Response::stream(
                    200,
                    "application/octet-stream",
                    (0..pieces).map(move |_| Ok(piece.clone())),
                ))
            }
            "other-workspace" => {
                let app_id = req.query("app_id").unwrap_or_default();
                let reply = session()
                    .app()
                    .workflow()
                    .call(&app_id)
                    .inputs(json!({"name": "x"}))
                    .blocking();
                Response::json(
                    200,
                    &json!({"reached": reply.is_ok(), "error": reply.err().map(|e| e.to_string())}),
                )
            }
            "stream-flood" => {
                let app_id = req.query("app_id").unwrap_or_default();
                let mut held = Vec::new();
                let mut refusals = 0;
                for _ in 0..10_000 {
                    match session().app().chat().call(&app_id).query("hi").stream() {
                        Ok(events) => held.push(events),
                        Err(_) => refusals += 1,
                    }
                }
                Response::json(200, &json!({"held": held.len(), "refused": refusals}))
            }
            "spin-in-stream" => Ok(Response::stream(
                200,
                "text/plain",
                (0..u64::MAX).map(|i| {
                    if i == 1 {
                        dify_plugin::endpoint::flush();
                        let mut n = 0u64;
                        loop {
                            n = std::hint::black_box(n.wrapping_add(1));
                        }
                    }
                    Ok(format!("before the spin {i}\n"))
                }),
            )),
            other => Err(Error::bad_request(format!("no attack named {other}"))),
        }
    }
}

dify_plugin::export_endpoints!(Hostile);
