//! Serve HTTP: the [`Endpoint`] trait a plugin implements, the [`Request`] it receives and the
//! [`Response`] it returns, with a body that is either complete or streamed from an iterator.
//! Each endpoint type declares its method and path pattern, as Dify's endpoint YAML does; the
//! host routes requests by them.
//!
//! The host owns the HTTP connection. The response goes into a host-owned writer: the head
//! first, then the body as the iterator yields it, so the caller sees events while the app is
//! still running. Body pieces that come quickly are gathered (up to [`FLUSH_AT`] bytes) and
//! sent together, but never held while the plugin waits on the host: see [`flush`]. If the
//! caller goes away, the iterator is dropped, and so is any app stream it holds, which cancels
//! that run.

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::body::{self, Body, BodyStream};
use crate::error::Error;
use crate::wit::dify::plugin::http as wit;
use crate::wit::exports::dify::plugin::endpoint::{HandlerError, Route};

pub use crate::body::{FLUSH_AT, flush};

/// An HTTP endpoint of the plugin. Export it with
/// [`export_endpoints!`](crate::export_endpoints).
///
/// Like a Dify endpoint YAML file plus its Python class: a method, a path pattern, and a
/// handler that gets the request, the values taken from the path (`app_id` from
/// `/duck/<app_id>`), and the endpoint's settings.
pub trait Endpoint {
    /// The HTTP method: `GET`, `POST`, `PUT`, `DELETE`, `HEAD` or `OPTIONS`.
    const METHOD: &'static str;

    /// The path pattern, starting with `/`: `<name>` matches one segment and becomes the
    /// value `name`; `<path:name>` matches the rest of the path and must come last.
    const PATH: &'static str;

    /// Handle one request.
    ///
    /// An `Err` becomes a 400 for [`Error::BadRequest`] and a 500 otherwise, with the error's
    /// text as the body. If the body was already streaming, the host cuts it instead, so that
    /// the caller never mistakes it for complete.
    fn invoke(req: Request, values: Values, settings: Settings) -> Result<Response, Error>;
}

/// The HTTP request an endpoint receives.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// `GET`, `POST`, ...
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, starting with `/`, without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The raw query string, without the `?`.
    pub fn query_string(&self) -> &str {
        &self.query
    }

    /// The first value of a query parameter, decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers, in order, with lower-case names.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text; a 400 if it is not.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::bad_request(format!("the request body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON; a 400 that says why if it does not parse.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::bad_request(format!("the request body is not the JSON expected: {e}"))
        })
    }
}

/// The values taken from the endpoint's path pattern, such as `app_id` in `/duck/<app_id>`.
#[derive(Debug, Clone, Default)]
pub struct Values(Vec<(String, String)>);

impl Values {
    /// A value by name; a 400 that names it if it is missing.
    pub fn get(&self, name: &str) -> Result<&str, Error> {
        self.find(name)
            .ok_or_else(|| Error::bad_request(format!("the path has no value '{name}'")))
    }

    /// A value by name, if present.
    pub fn find(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values, in the order of the path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The endpoint's settings, a JSON object (what the Dify user configured for the endpoint).
#[derive(Debug, Clone, Default)]
pub struct Settings(serde_json::Map<String, Value>);

impl Settings {
    /// A setting by name, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string setting; a 500 that names it if it is missing or not a string (settings are
    /// the operator's configuration, not the caller's input).
    pub fn str(&self, name: &str) -> Result<&str, Error> {
        match self.0.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(Error::msg(format!(
                "setting '{name}' must be a string, got {other}"
            ))),
            None => Err(Error::msg(format!("setting '{name}' is not configured"))),
        }
    }

    /// All settings.
    pub fn as_map(&self) -> &serde_json::Map<String, Value> {
        &self.0
    }
}

/// An HTTP response: status, headers, and a complete or streamed body.
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field(
                "body",
                &match &self.body {
                    Body::Full(b) => Cow::Owned(format!("{} bytes", b.len())),
                    Body::Stream(_) => Cow::Borrowed("stream"),
                },
            )
            .finish()
    }
}

impl Response {
    /// A response with an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Full(Vec::new()),
        }
    }

    /// A complete body with its content type.
    pub fn full(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response::new(status)
            .header("content-type", content_type)
            .with_body(body.into())
    }

    /// A `text/plain; charset=utf-8` body.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::full(status, "text/plain; charset=utf-8", body.into())
    }

    /// A JSON body.
    pub fn json(status: u16, body: &impl Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::json("the response body", e))?;
        Ok(Response::full(status, "application/json", bytes))
    }

    /// A body streamed from an iterator. Items are sent as they come, gathered when they come
    /// faster than one host call each is worth (see [`flush`]); nothing is held while the
    /// plugin waits for the next app event. An `Err` item ends the response: what came before
    /// it is sent, then the host cuts the body, so the caller sees an incomplete response,
    /// never one that looks whole.
    pub fn stream<I, B>(status: u16, content_type: &str, body: I) -> Self
    where
        I: IntoIterator<Item = Result<B, Error>>,
        I::IntoIter: 'static,
        B: Into<Vec<u8>>,
    {
        let stream: BodyStream = Box::new(body.into_iter().map(|item| item.map(Into::into)));
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Body::Stream(stream),
        }
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = Body::Full(body);
        self
    }
}

/// The route the export macro declares for an endpoint type.
#[doc(hidden)]
pub fn __route<E: Endpoint>() -> Route {
    Route {
        method: E::METHOD.to_owned(),
        path: E::PATH.to_owned(),
    }
}

/// Whether the host routed this request to the endpoint type `E`.
#[doc(hidden)]
pub fn __is_route_of<E: Endpoint>(req: &wit::Request) -> bool {
    req.route == E::PATH
        && (req.method.eq_ignore_ascii_case(E::METHOD)
            || (req.method == "HEAD" && E::METHOD.eq_ignore_ascii_case("GET")))
}

/// A request the host routed to no endpoint of this plugin: a host bug, reported as such.
#[doc(hidden)]
pub fn __unrouted(req: &wit::Request) -> Result<(), HandlerError> {
    Err(HandlerError::Internal(format!(
        "the host routed {} {} to '{}', which this plugin does not declare",
        req.method, req.path, req.route
    )))
}

/// The glue behind [`export_endpoints!`](crate::export_endpoints): converts the WIT request,
/// runs the handler and writes its response.
#[doc(hidden)]
pub fn __handle<E: Endpoint>(
    req: wit::Request,
    out: &wit::ResponseWriter,
) -> Result<(), HandlerError> {
    crate::logging::install();
    let settings = match serde_json::from_str::<Value>(&req.settings) {
        Ok(Value::Object(map)) => Settings(map),
        Ok(Value::Null) => Settings::default(),
        Ok(other) => {
            return Err(HandlerError::Internal(format!(
                "the endpoint settings must be a JSON object, got {other}"
            )));
        }
        Err(e) => {
            return Err(HandlerError::Internal(format!(
                "the endpoint settings are not JSON: {e}"
            )));
        }
    };
    let values = Values(req.values);
    let request = Request {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: req.headers,
        body: req.body,
    };
    let response = E::invoke(request, values, settings).map_err(Error::into_handler_error)?;
    write_response(response, out)
}

fn write_response(response: Response, out: &wit::ResponseWriter) -> Result<(), HandlerError> {
    let head = wit::ResponseHead {
        status: response.status,
        headers: response.headers,
    };
    if let Err(e) = out.send_head(&head) {
        return body::closed_or_error(e);
    }
    body::write(response.body, out)
}
