//! Routing requests to a plugin's endpoints, by the method and path patterns it declares.
//!
//! Patterns use the syntax of Dify's endpoint YAML (werkzeug rules): `/duck/<app_id>` has a
//! value `app_id` matching one non-empty segment, `<path:rest>` matches the rest of the path
//! and must come last. Values are percent-decoded. A `GET` endpoint also answers `HEAD`, as
//! werkzeug's do. The host routes before the plugin runs, so a 404 or 405 costs no instance.
//!
//! The declarations come from the plugin, so they are bounded before anything else is done
//! with them: at most [`MAX_ROUTES`] endpoints, patterns of at most [`MAX_PATTERN_LEN`] bytes
//! and methods of at most [`MAX_METHOD_LEN`] bytes. Duplicates are found with a hash set, so
//! loading costs time linear in what was declared.

use std::collections::HashSet;

use percent_encoding::percent_decode_str;

/// The most endpoints a plugin may declare. Dify plugins declare a handful (the official
/// ones, fewer than ten); a generous cap keeps the per-request scan of the routes, and the
/// load, cheap whatever a plugin's manifest says.
pub const MAX_ROUTES: usize = 256;

/// The longest endpoint pattern, in bytes. Real patterns are a few dozen bytes; this bounds
/// the parse and every error message that quotes a pattern.
pub const MAX_PATTERN_LEN: usize = 1024;

/// The longest method, in bytes. The longest allowed one, `OPTIONS`, has 7; this bounds the
/// upper-casing and the error message of a method that is not allowed.
pub const MAX_METHOD_LEN: usize = 16;

/// How much of a refused over-long pattern an error message quotes, in characters.
const QUOTED: usize = 64;

/// The methods Dify allows in an endpoint declaration.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    /// `<name>` or `<string:name>`: one non-empty segment.
    Value(String),
    /// `<path:name>`: the rest of the path, at least one character.
    Rest(String),
}

/// One declared endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method, upper case.
    pub method: String,
    /// The pattern, as declared.
    pub path: String,
    segments: Vec<Segment>,
}

/// What a request matched.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed<'a> {
    /// This endpoint, with the values taken from the path.
    Found {
        /// The endpoint.
        route: &'a Route,
        /// The values, in pattern order.
        values: Vec<(String, String)>,
    },
    /// No pattern matches the path.
    NotFound,
    /// Patterns match the path, but for other methods (listed, for the `Allow` header).
    MethodNotAllowed(Vec<String>),
    /// The path cannot be read (a value that is not UTF-8 once percent-decoded).
    BadPath(String),
}

/// A plugin's endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Check and compile the declared `(method, pattern)` pairs.
    ///
    /// Refused: more than [`MAX_ROUTES`] pairs, a pattern longer than [`MAX_PATTERN_LEN`] or a
    /// method longer than [`MAX_METHOD_LEN`] bytes (all checked before any pattern is
    /// parsed), a pattern or method Dify would not accept, and the same method and pattern
    /// twice. No pairs at all is a router that finds nothing (a plugin of tools only).
    pub fn new(declared: impl IntoIterator<Item = (String, String)>) -> Result<Self, String> {
        let mut declared = declared.into_iter();
        // Take one more than allowed, to know whether there are too many without keeping them.
        let kept: Vec<(String, String)> = declared.by_ref().take(MAX_ROUTES + 1).collect();
        if kept.len() > MAX_ROUTES {
            let total = kept.len().saturating_add(declared.count());
            return Err(format!(
                "the plugin declares {total} endpoints; at most {MAX_ROUTES} are allowed"
            ));
        }
        for (method, path) in &kept {
            check_lengths(method, path)?;
        }
        let mut routes: Vec<Route> = Vec::with_capacity(kept.len());
        let mut seen: HashSet<(String, Vec<Segment>)> = HashSet::with_capacity(kept.len());
        for (method, path) in &kept {
            let route = parse(method, path)?;
            if !seen.insert((route.method.clone(), route.segments.clone())) {
                return Err(format!(
                    "the endpoint {} {path} is declared twice",
                    route.method
                ));
            }
            routes.push(route);
        }
        Ok(Router { routes })
    }

    /// The endpoints, in declaration order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Find the endpoint for a request.
    pub fn route(&self, method: &str, path: &str) -> Routed<'_> {
        let Some(rest) = path.strip_prefix('/') else {
            return Routed::NotFound;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut allowed = Vec::new();
        for route in &self.routes {
            let values = match matches(&route.segments, &parts) {
                Ok(Some(values)) => values,
                Ok(None) => continue,
                Err(reason) => return Routed::BadPath(reason),
            };
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return Routed::Found { route, values };
            }
            allowed.push(route.method.clone());
            if route.method == "GET" {
                allowed.push("HEAD".into());
            }
        }
        if allowed.is_empty() {
            Routed::NotFound
        } else {
            allowed.dedup();
            Routed::MethodNotAllowed(allowed)
        }
    }
}

/// The length caps, checked before a pattern is parsed or quoted whole.
fn check_lengths(method: &str, path: &str) -> Result<(), String> {
    if path.len() > MAX_PATTERN_LEN {
        let quoted = match path.char_indices().nth(QUOTED) {
            Some((end, _)) => format!("{}…", &path[..end]),
            None => path.to_owned(),
        };
        return Err(format!(
            "endpoint path '{quoted}' is {} bytes long; at most {MAX_PATTERN_LEN} are allowed",
            path.len()
        ));
    }
    if method.len() > MAX_METHOD_LEN {
        return Err(format!(
            "endpoint '{path}' has a method of {} bytes; at most {MAX_METHOD_LEN} are allowed",
            method.len()
        ));
    }
    Ok(())
}

fn parse(method: &str, path: &str) -> Result<Route, String> {
    let method_upper = method.to_ascii_uppercase();
    if !METHODS.contains(&method_upper.as_str()) {
        return Err(format!(
            "endpoint '{path}' has method '{method}'; expected one of {}",
            METHODS.join(", ")
        ));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("endpoint path '{path}' must start with '/'"));
    };
    let mut segments = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let parts: Vec<&str> = rest.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        let segment = match part.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
            Some(inner) => {
                let (converter, name) = inner.split_once(':').unwrap_or(("string", inner));
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!(
                        "endpoint path '{path}': '<{inner}>' needs a name of letters, digits and '_'"
                    ));
                }
                if names.contains(&name) {
                    return Err(format!(
                        "endpoint path '{path}' uses the value '{name}' twice"
                    ));
                }
                names.push(name);
                match converter {
                    "string" => Segment::Value(name.to_owned()),
                    "path" if i + 1 == parts.len() => Segment::Rest(name.to_owned()),
                    "path" => {
                        return Err(format!(
                            "endpoint path '{path}': '<path:{name}>' must be the last segment"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "endpoint path '{path}': the converter '{other}' is not supported; use <{name}> or <path:{name}>"
                        ));
                    }
                }
            }
            None if part.contains(['<', '>']) => {
                return Err(format!(
                    "endpoint path '{path}': '{part}' mixes text and a value; a value takes a whole segment"
                ));
            }
            None => Segment::Literal((*part).to_owned()),
        };
        segments.push(segment);
    }
    Ok(Route {
        method: method_upper,
        path: path.to_owned(),
        segments,
    })
}

/// The values if `parts` match `segments`; `Err` for a value that is not UTF-8.
fn matches(segments: &[Segment], parts: &[&str]) -> Result<Option<Vec<(String, String)>>, String> {
    let mut values = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(text) => {
                if parts.get(i) != Some(&text.as_str()) {
                    return Ok(None);
                }
            }
            Segment::Value(name) => match parts.get(i) {
                Some(part) if !part.is_empty() => values.push((name.clone(), decode(part)?)),
                _ => return Ok(None),
            },
            Segment::Rest(name) => {
                let rest = parts.get(i..).map(|p| p.join("/")).unwrap_or_default();
                if rest.is_empty() {
                    return Ok(None);
                }
                values.push((name.clone(), decode(&rest)?));
                return Ok(Some(values));
            }
        }
    }
    Ok((parts.len() == segments.len()).then_some(values))
}

fn decode(part: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("the path segment '{part}' is not UTF-8 once percent-decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(routes.iter().map(|(m, p)| ((*m).into(), (*p).into()))).unwrap()
    }

    fn values(routed: Routed<'_>) -> Vec<(String, String)> {
        match routed {
            Routed::Found { values, .. } => values,
            other => panic!("not found: {other:?}"),
        }
    }

    #[test]
    fn a_value_segment_takes_one_decoded_segment() {
        let r = router(&[("GET", "/duck/<app_id>")]);
        assert_eq!(
            values(r.route("GET", "/duck/a%20b")),
            [("app_id".to_owned(), "a b".to_owned())]
        );
        assert_eq!(r.route("GET", "/duck/"), Routed::NotFound);
        assert_eq!(r.route("GET", "/duck/a/b"), Routed::NotFound);
        assert_eq!(r.route("GET", "/goose/a"), Routed::NotFound);
    }

    #[test]
    fn a_path_value_takes_the_rest() {
        let r = router(&[("POST", "/files/<path:name>")]);
        assert_eq!(
            values(r.route("POST", "/files/a/b.txt")),
            [("name".to_owned(), "a/b.txt".to_owned())]
        );
        assert_eq!(r.route("POST", "/files/"), Routed::NotFound);
    }

    #[test]
    fn another_method_on_a_known_path_lists_the_allowed_ones() {
        let r = router(&[("GET", "/duck/<app_id>"), ("PUT", "/duck/<id>")]);
        assert_eq!(
            r.route("POST", "/duck/x"),
            Routed::MethodNotAllowed(vec!["GET".into(), "HEAD".into(), "PUT".into()])
        );
        assert!(matches!(r.route("HEAD", "/duck/x"), Routed::Found { .. }));
    }

    proptest::proptest! {
        /// Bounded version of the fuzz target (`fuzz/fuzz_targets/router.rs`): any pattern and
        /// path never panic, and a match has one value per value segment.
        #[test]
        fn any_pattern_and_path(
            pattern in "(/([a-z]{1,3}|<[a-z]{1,3}>|<path:[a-z]{1,3}>|%[0-9a-f]{2})){1,4}",
            path in "(/([a-z]{0,3}|%[0-9a-fA-F]{2}|<|>)){0,5}",
        ) {
            if let Ok(router) = Router::new([("GET".to_owned(), pattern.clone())])
                && let Routed::Found { values, .. } = router.route("GET", &path)
            {
                proptest::prop_assert_eq!(values.len(), pattern.matches('<').count());
            }
        }
    }

    #[test]
    fn a_value_that_is_not_utf8_is_a_bad_path() {
        let r = router(&[("GET", "/duck/<app_id>")]);
        assert!(matches!(r.route("GET", "/duck/%ff"), Routed::BadPath(_)));
    }

    #[test]
    fn bad_declarations_are_refused_with_the_reason() {
        let err = |m: &str, p: &str| Router::new([(m.to_owned(), p.to_owned())]).unwrap_err();
        assert_eq!(
            err("FETCH", "/x"),
            "endpoint '/x' has method 'FETCH'; expected one of GET, POST, PUT, DELETE, HEAD, OPTIONS"
        );
        assert_eq!(err("GET", "x"), "endpoint path 'x' must start with '/'");
        assert_eq!(
            err("GET", "/a/<int:id>"),
            "endpoint path '/a/<int:id>': the converter 'int' is not supported; use <id> or <path:id>"
        );
        assert_eq!(
            err("GET", "/<path:a>/b"),
            "endpoint path '/<path:a>/b': '<path:a>' must be the last segment"
        );
        // A plugin with tools only has no endpoints: every path is unknown.
        let empty = Router::new(Vec::new()).unwrap();
        assert!(matches!(empty.route("GET", "/"), Routed::NotFound));
    }

    fn declared(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| ("GET".to_owned(), format!("/r{i}/<id>/x")))
            .collect()
    }

    #[test]
    fn too_many_endpoints_are_refused_quickly_with_the_count() {
        let start = std::time::Instant::now();
        assert_eq!(
            Router::new(declared(100_000)).unwrap_err(),
            "the plugin declares 100000 endpoints; at most 256 are allowed"
        );
        assert_eq!(
            Router::new(declared(MAX_ROUTES + 1)).unwrap_err(),
            "the plugin declares 257 endpoints; at most 256 are allowed"
        );
        // Linear work, no parsing: far below the 108 s the quadratic check took.
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn the_cap_is_checked_before_any_pattern() {
        // Bad patterns past the cap are never parsed: the count is the error.
        let mut many = declared(MAX_ROUTES);
        many.push(("FETCH".into(), "no-slash".into()));
        assert!(
            Router::new(many)
                .unwrap_err()
                .starts_with("the plugin declares 257")
        );
    }

    #[test]
    fn long_patterns_and_methods_are_refused_with_the_limit() {
        let long = format!("/{}", "a".repeat(20_000));
        let err = Router::new([("GET".to_owned(), long)]).unwrap_err();
        assert_eq!(
            err,
            format!(
                "endpoint path '/{}…' is 20001 bytes long; at most 1024 are allowed",
                "a".repeat(63)
            )
        );
        // Exactly at the cap is fine.
        let at_cap = format!("/{}", "a".repeat(MAX_PATTERN_LEN - 1));
        assert!(Router::new([("GET".to_owned(), at_cap)]).is_ok());
        assert_eq!(
            Router::new([("G".repeat(1 << 20), "/x".to_owned())]).unwrap_err(),
            "endpoint '/x' has a method of 1048576 bytes; at most 16 are allowed"
        );
        // A multi-byte character at the quoting point is not split.
        let wide = format!("/{}", "é".repeat(1000));
        assert!(
            Router::new([("GET".to_owned(), wide)])
                .unwrap_err()
                .contains("2001 bytes")
        );
    }

    #[test]
    fn duplicates_are_still_found() {
        let err = Router::new([
            ("GET".to_owned(), "/a/<id>".to_owned()),
            ("POST".to_owned(), "/a/<id>".to_owned()),
            ("get".to_owned(), "/a/<id>".to_owned()),
        ])
        .unwrap_err();
        assert_eq!(err, "the endpoint GET /a/<id> is declared twice");
        // The same pattern under another method, or another name, is another endpoint.
        assert!(
            Router::new([
                ("GET".to_owned(), "/a/<id>".to_owned()),
                ("PUT".to_owned(), "/a/<id>".to_owned()),
                ("GET".to_owned(), "/a/<other>/b".to_owned()),
            ])
            .is_ok()
        );
    }

    #[test]
    fn the_most_endpoints_allowed_load_fast() {
        let start = std::time::Instant::now();
        let router = Router::new(declared(MAX_ROUTES)).unwrap();
        assert_eq!(router.routes().len(), MAX_ROUTES);
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert!(matches!(
            router.route("GET", "/r255/7/x"),
            Routed::Found { .. }
        ));
    }
}
