//! The API key check, after the middleware and before the body is read, on every route.
//!
//! The key is read from the one place `api_key_location` names (the `X-API-Key` header or
//! the `difyToken` query parameter, never both) and compared in constant time, so the
//! answer's timing does not tell a caller how much of a guess was right. Only the length of
//! the key can show.

use dify_plugin::Request;
use subtle::ConstantTimeEq;

use crate::config::{Config, KeyLocation};
use crate::{Halt, error};

/// `Ok` if the request may go on; otherwise the original's 500 (no key configured) or 403.
pub fn check(config: &Config, req: &Request) -> Result<(), Halt> {
    let given = match config.key_location {
        KeyLocation::None => return Ok(()),
        KeyLocation::Header => req.header("x-api-key").map(str::to_owned),
        KeyLocation::QueryParam => req.query("difyToken"),
    };
    let Some(expected) = &config.api_key else {
        return Err(error(500, "Expected API key is not configured."));
    };
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        _ => Err(error(403, "Invalid API key")),
    }
}
