//! Endpoint routing: any declared patterns and any request path never panic, and a match
//! gives one value per value segment of its pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use dify_plugin_wire::router::{Routed, Router};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let (Some(method), Some(path)) = (lines.next(), lines.next()) else {
        return;
    };
    let declared: Vec<(String, String)> = lines
        .map(|l| {
            let (m, p) = l.split_once(' ').unwrap_or(("GET", l));
            (m.to_owned(), p.to_owned())
        })
        .collect();
    let Ok(router) = Router::new(declared) else {
        return;
    };
    if let Routed::Found { route, values } = router.route(method, path) {
        let expected = route.path.matches('<').count();
        assert_eq!(values.len(), expected, "{route:?} {path}");
    }
});
