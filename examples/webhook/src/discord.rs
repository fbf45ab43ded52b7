//! The Discord middleware (`middleware: discord`): Discord signs every interaction it sends
//! to an app's webhook, and refuses to use a URL that accepts unsigned ones.
//!
//! It runs first, before the API key, on every route: Discord cannot send the key, so its
//! own replies (ping and ack) need none, and everything else still goes through the key
//! check and the app call.

use dify_plugin::prelude::*;
use ed25519_dalek::{Signature, VerifyingKey};

/// Whether `X-Signature-Ed25519` is the Ed25519 signature, by `key`, of
/// `X-Signature-Timestamp` followed by the raw body bytes.
///
/// A missing header, a signature that is not 128 hex digits and a wrong signature are all a
/// rejection. The timestamp is not checked for freshness, as in the original.
pub fn verified(key: &VerifyingKey, req: &Request) -> bool {
    let (Some(signature), Some(timestamp)) = (
        req.header("x-signature-ed25519"),
        req.header("x-signature-timestamp"),
    ) else {
        return false;
    };
    let mut bytes = [0; Signature::BYTE_SIZE];
    if hex::decode_to_slice(signature, &mut bytes).is_err() {
        return false;
    }
    let message = [timestamp.as_bytes(), req.body()].concat();
    // Strict, as libsodium (the original's PyNaCl) is: no small-order keys or points.
    key.verify_strict(&message, &Signature::from_bytes(&bytes))
        .is_ok()
}

/// The original's replies to a signed interaction of type 0 (204, no body) and type 1
/// (`{"type": 1}`); `None` for any other body, which goes on as an ordinary request.
pub fn reply(interaction: &Value) -> Option<Response> {
    match interaction.get("type").and_then(Value::as_i64) {
        Some(0) => Some(Response::new(204)),
        Some(1) => Some(crate::json_response(200, &json!({ "type": 1 }))),
        _ => None,
    }
}
