//! Routing requests to a plugin's endpoints, by the method and path patterns it declares.
//!
//! Patterns use the syntax of Dify's endpoint YAML (werkzeug rules): `/duck/<app_id>` has a
//! value `app_id` matching one non-empty segment, `<path:rest>` matches the rest of the path
//! and must come last. Values are percent-decoded. A `GET` endpoint also answers `HEAD`, as
//! werkzeug's do. The host routes before the plugin runs, so a 404 or 405 costs no instance.

use percent_encoding::percent_decode_str;

/// The methods Dify allows in an endpoint declaration.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"];

#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub fn new(declared: impl IntoIterator<Item = (String, String)>) -> Result<Self, String> {
        let mut routes: Vec<Route> = Vec::new();
        for (method, path) in declared {
            let route = parse(&method, &path)?;
            if routes
                .iter()
                .any(|r| r.method == route.method && r.segments == route.segments)
            {
                return Err(format!(
                    "the endpoint {} {path} is declared twice",
                    route.method
                ));
            }
            routes.push(route);
        }
        if routes.is_empty() {
            return Err("the plugin declares no endpoints".into());
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
        assert_eq!(
            Router::new(Vec::new()).unwrap_err(),
            "the plugin declares no endpoints"
        );
    }
}
