//! A test plugin, on the raw wit-bindgen bindings, whose `routes()` sleeps 5 s before
//! returning `GET /x`: it checks how the host bounds (or waits for) plugin loading.
//! `GET /x` answers 200 `x`.

use std::time::Duration;

use dify::plugin::http::{Request, ResponseHead, ResponseWriter};
use exports::dify::plugin::endpoint::{Guest, HandlerError, Route};

// Built against the released 0.1.1 contract (`tests/wit-0.1.1/`): a component of an
// older 0.1.x, which the host must keep serving.
wit_bindgen::generate!({ path: "../../wit-0.1.1", world: "plugin" });

struct RoutesSleep;

impl Guest for RoutesSleep {
    fn routes() -> Vec<Route> {
        // A WASI monotonic-clock poll, so the guest blocks in the host rather than spinning.
        std::thread::sleep(Duration::from_millis(5_000));
        vec![Route {
            method: "GET".into(),
            path: "/x".into(),
        }]
    }

    fn handle(_req: Request, out: &ResponseWriter) -> Result<(), HandlerError> {
        let head = ResponseHead {
            status: 200,
            headers: Vec::new(),
        };
        // A caller that left is not the plugin's failure.
        let _ = out.send_head(&head).and_then(|()| out.write(b"x"));
        Ok(())
    }
}

// Only a component has these exports; a native build of the workspace must still link.
#[cfg(target_arch = "wasm32")]
export!(RoutesSleep);
#[cfg(not(target_arch = "wasm32"))]
const _: () = {
    let _ = <RoutesSleep as Guest>::handle;
    let _ = <RoutesSleep as Guest>::routes;
};
