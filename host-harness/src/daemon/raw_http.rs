//! The HTTP request inside an `invoke_endpoint`: hex of the bytes Go's `Request.Write`
//! produced (request line, headers, blank line, body; daemon-protocol.md §2.6, dify-wire.md
//! §5.3), parsed into an [`EndpointRequest`]. The daemon has already cut the body to 10 MiB
//! and set `Content-Length` to what it kept.

use crate::endpoint::EndpointRequest;

/// Headers a request may have (the daemon forwards whatever the caller sent).
const MAX_HEADERS: usize = 256;

/// Why the request cannot be served: the status and text to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub status: u16,
    pub text: String,
}

fn refused(status: u16, text: impl Into<String>) -> Refused {
    Refused {
        status,
        text: text.into(),
    }
}

/// Parse the hex of a raw HTTP request; bodies over `max_body` bytes are refused (413).
pub(crate) fn parse(hex_request: &str, max_body: usize) -> Result<EndpointRequest, Refused> {
    let bytes = hex::decode(hex_request.trim()).map_err(|e| {
        refused(
            400,
            format!("the daemon's raw_http_request is not hex: {e}"),
        )
    })?;
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut headers);
    let head_len = match head.parse(&bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return Err(refused(400, "the HTTP request ends inside its head"));
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refused(
                431,
                format!("the HTTP request has more than {MAX_HEADERS} headers"),
            ));
        }
        Err(e) => {
            return Err(refused(
                400,
                format!("the HTTP request does not parse: {e}"),
            ));
        }
    };
    let method = head.method.unwrap_or("GET");
    let target = head.path.unwrap_or("/");
    let mut request = EndpointRequest::new(method, target);
    let mut length = None;
    for header in head.headers.iter() {
        let value = std::str::from_utf8(header.value)
            .map_err(|_| refused(400, format!("the header '{}' is not UTF-8", header.name)))?;
        let name = header.name.to_ascii_lowercase();
        if name == "content-length" {
            length = value.trim().parse::<usize>().ok();
        }
        request.headers.push((name, value.to_owned()));
    }
    let body = &bytes[head_len..];
    let body = length.map_or(body, |n| &body[..n.min(body.len())]);
    if body.len() > max_body {
        return Err(refused(
            413,
            format!("the request body exceeds the limit of {max_body} bytes"),
        ));
    }
    request.body = body.to_vec();
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(text: &str) -> String {
        hex::encode(text)
    }

    #[test]
    fn the_daemons_serialization_parses() {
        // The request of the Python SDK's transcript (python-sdk-endpoint-remote-debug.tsv).
        let raw = "POST /chat/abc HTTP/1.1\r\nHost: localhost\r\nContent-Length: 14\r\nContent-Type: application/json\r\nDify-Hook-Id: hook1\r\n\r\n{\"query\":\"hi\"}";
        let request = parse(&hex_of(raw), 1 << 20).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/chat/abc");
        assert_eq!(request.query, "");
        assert_eq!(request.body, br#"{"query":"hi"}"#);
        assert!(
            request
                .headers
                .contains(&("dify-hook-id".to_owned(), "hook1".to_owned()))
        );
        let with_query = parse(
            &hex_of("GET /duck/x?query=hi&a=b HTTP/1.1\r\nHost: h\r\n\r\n"),
            10,
        )
        .unwrap();
        assert_eq!(
            (with_query.path.as_str(), with_query.query.as_str()),
            ("/duck/x", "query=hi&a=b")
        );
    }

    #[test]
    fn bad_requests_are_refused_with_a_status() {
        assert_eq!(parse("zz", 10).unwrap_err().status, 400);
        assert_eq!(
            parse(&hex_of("GET / HTTP/1.1\r\nHost"), 10)
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            parse(&hex_of("NOT A REQUEST\r\n\r\n"), 10)
                .unwrap_err()
                .status,
            400
        );
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n{}",
            "x".repeat(11)
        );
        assert_eq!(parse(&hex_of(&big), 10).unwrap_err().status, 413);
        let many: String = (0..300).map(|i| format!("x-{i}: v\r\n")).collect();
        assert_eq!(
            parse(&hex_of(&format!("GET / HTTP/1.1\r\n{many}\r\n")), 10)
                .unwrap_err()
                .status,
            431
        );
    }
}
