//! A test plugin, on the raw wit-bindgen bindings, whose `routes()` returns 20,000 routes
//! `GET /r0` .. `GET /r19999`: it checks how the host bounds the route table a plugin declares.
//! Every route answers 200 `r`.

use dify::plugin::http::{Request, ResponseHead, ResponseWriter};
use exports::dify::plugin::endpoint::{Guest, HandlerError, Route};

// Built against the released 0.1.1 contract (`tests/wit-0.1.1/`): a component of an
// older 0.1.x, which the host must keep serving.
wit_bindgen::generate!({ path: "../../wit-0.1.1", world: "plugin" });

struct RoutesMany;

impl Guest for RoutesMany {
    fn routes() -> Vec<Route> {
        (0..20_000)
            .map(|i| Route {
                method: "GET".into(),
                path: format!("/r{i}"),
            })
            .collect()
    }

    fn handle(_req: Request, out: &ResponseWriter) -> Result<(), HandlerError> {
        let head = ResponseHead {
            status: 200,
            headers: Vec::new(),
        };
        // A caller that left is not the plugin's failure.
        let _ = out.send_head(&head).and_then(|()| out.write(b"r"));
        Ok(())
    }
}

// Only a component has these exports; a native build of the workspace must still link.
#[cfg(target_arch = "wasm32")]
export!(RoutesMany);
#[cfg(not(target_arch = "wasm32"))]
const _: () = {
    let _ = <RoutesMany as Guest>::handle;
    let _ = <RoutesMany as Guest>::routes;
};
