//! The signature the plugin daemon verifies: RSA (PKCS#1 v1.5, SHA-256) over the SHA-256 of
//! every file in the package's order followed by the signing time in decimal, written into
//! the zip's comment as `{"signature": <base64>, "time": <unix seconds>}` (DMN
//! `pkg/plugin_packager/signer/withkey/sign_with_key.go`, `decoder/verifier.go`).
//!
//! Operators keep verification on by giving the daemon the public key
//! (`THIRD_PARTY_SIGNATURE_VERIFICATION_ENABLED=true`,
//! `THIRD_PARTY_SIGNATURE_VERIFICATION_PUBLIC_KEYS=<path>`), which it reads as a PKCS#1
//! `RSA PUBLIC KEY` PEM block: [`generate_key`] writes both halves in the formats
//! `dify signature generate` does.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::{Digest, Sha256};

use super::PackageError;

/// A new key pair, as PEM text.
pub struct KeyPair {
    /// PKCS#1 `RSA PRIVATE KEY`: give it to `package --sign`; keep it secret.
    pub private_pem: String,
    /// PKCS#1 `RSA PUBLIC KEY`: give it to the daemon.
    pub public_pem: String,
}

/// A new RSA key pair of `bits` (the daemon's own tool makes 4096).
pub fn generate_key(bits: usize) -> Result<KeyPair, String> {
    let mut rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
    let key = rsa::PrivateKey::new(&mut rng, bits).map_err(|e| e.to_string())?;
    let private_pem = key
        .to_pkcs1_pem(Default::default())
        .map_err(|e| e.to_string())?;
    let public_pem = key
        .to_public_key()
        .to_pkcs1_pem(Default::default())
        .map_err(|e| e.to_string())?;
    Ok(KeyPair {
        private_pem: private_pem.to_string(),
        public_pem,
    })
}

/// The zip comment signing `files` (in their order) now, with the key at `key_path`.
pub(super) fn comment(
    files: &[(String, Vec<u8>)],
    key_path: &Path,
) -> Result<String, PackageError> {
    let fail = |reason: String| PackageError::Key {
        path: key_path.to_owned(),
        reason,
    };
    let pem = std::fs::read_to_string(key_path).map_err(|e| fail(e.to_string()))?;
    let key = rsa::PrivateKey::from_pkcs1_pem(&pem)
        .or_else(|_| rsa::PrivateKey::from_pkcs8_pem(&pem))
        .map_err(|e| {
            fail(format!(
                "not a PEM RSA private key (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`): {e}; \
                 `dify-plugin-host keygen` makes one"
            ))
        })?;
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| fail(format!("the clock is before 1970: {e}")))?
        .as_secs();
    let signature = key
        .pkcs1v15_sign::<Sha256>(&signed_data(files, time))
        .map_err(|e| fail(e.to_string()))?;
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    // Go's encoding/json writes map keys sorted: the daemon's own comments look like this.
    Ok(serde_json::json!({"signature": signature, "time": time}).to_string())
}

/// What is signed: each file's SHA-256, in package order, then the time in decimal.
fn signed_data(files: &[(String, Vec<u8>)], time: u64) -> Vec<u8> {
    let mut data = Vec::with_capacity(files.len() * 32 + 20);
    for (_, bytes) in files {
        data.extend_from_slice(&Sha256::digest(bytes));
    }
    data.extend_from_slice(time.to_string().as_bytes());
    data
}
