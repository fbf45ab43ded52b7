//! The benchmark's hello plugin: `GET /hello` answers 200 `hello` and does nothing else, so
//! a request's cost is the host's own (HTTP, admission, a fresh instance, the response
//! channel), not the plugin's.

use dify_plugin::prelude::*;

struct Hello;

impl Endpoint for Hello {
    const METHOD: &'static str = "GET";
    const PATH: &'static str = "/hello";

    fn invoke(_: Request, _: Values, _: Settings) -> Result<Response, Error> {
        Ok(Response::text(200, "hello"))
    }
}

dify_plugin::export_endpoints!(Hello);
