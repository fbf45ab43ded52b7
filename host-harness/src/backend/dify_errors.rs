//! Dify's error answers, mapped onto the WIT error variants with Dify's words kept.
//!
//! The common cases go through [`AppError::from_dify`], the same mapping the mock uses. The
//! cases that only a real Dify produces are handled here first:
//! - the inner API answers **404** (Flask's generic "URL not found") when `X-Inner-Api-Key`
//!   is wrong or missing, so a 404 there means the host's key was refused;
//! - the inner API of Dify 1.13 answers **500** for every completion app (its plugin path
//!   builds the generator's arguments without `query`: `KeyError: 'query'`, reference §3.7);
//! - the inner API answers **400 `user not found`** when the user id the host runs calls as
//!   (`--user-id`) is not an end user or account Dify knows: the operator's setting, not the
//!   plugin's request;
//! - the Service API answers **401** for a bad app key;
//! - a body that is not Dify's JSON (a proxy's 502 page) is reported with its status and a
//!   short excerpt.

use serde::Deserialize;

use crate::backend::{AppError, AppKind, DifyError};

/// Which of Dify's APIs answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/inner/api/invoke/app`, called by the host.
    #[cfg(feature = "dify-http")]
    Inner,
    /// `/inner/api/invoke/app`, called by the plugin daemon for the host: the same answers,
    /// but the key and the user are the daemon's, not the host's settings.
    Daemon,
    #[cfg(feature = "dify-http")]
    /// `/v1/...`.
    Service,
}

#[derive(Deserialize)]
struct Body {
    code: Option<String>,
    message: Option<String>,
}

/// Map a non-200 answer; `kind` is the interface used. The texts do not name the app: the
/// SDK's error does.
pub(crate) fn map_error(api: Api, status: u16, body: &[u8], kind: AppKind) -> AppError {
    let parsed = serde_json::from_slice::<Body>(body).ok();
    let Some(Body { code, message }) = parsed else {
        let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
        return AppError::Internal(format!(
            "Dify answered HTTP {status} with a body that is not Dify's JSON: {excerpt:?}"
        ));
    };
    let dify = DifyError {
        status,
        code: code.unwrap_or_default(),
        message: message.unwrap_or_default(),
    };
    match (api, status) {
        #[cfg(feature = "dify-http")]
        (Api::Inner, 404) => AppError::PermissionDenied(
            "Dify refused the host's inner API key (HTTP 404 from /inner/api/invoke/app, which \
             Dify answers when X-Inner-Api-Key does not match its INNER_API_KEY_FOR_PLUGIN); \
             check the host's --inner-api-key"
                .into(),
        ),
        (Api::Daemon, 404) => AppError::PermissionDenied(
            "Dify refused the plugin daemon's inner API key (HTTP 404 from \
             /inner/api/invoke/app, which Dify answers when X-Inner-Api-Key does not match its \
             INNER_API_KEY_FOR_PLUGIN): the operator must set the daemon's DIFY_INNER_API_KEY \
             to Dify's INNER_API_KEY_FOR_PLUGIN"
                .into(),
        ),
        #[cfg(feature = "dify-http")]
        (Api::Inner, 500) if kind == AppKind::Completion => completion_defect(
            &dify,
            "use the Service API backend (--backend service) for completion apps",
        ),
        (Api::Daemon, 500) if kind == AppKind::Completion => completion_defect(
            &dify,
            "through the daemon, use a chat or workflow app instead",
        ),
        (Api::Daemon, 400) if dify.message == "user not found" => AppError::Internal(format!(
            "Dify does not know the user the plugin daemon named for this request ({} {:?}): \
             the endpoint's or tool's caller, which the daemon passes on",
            dify.code, dify.message
        )),
        #[cfg(feature = "dify-http")]
        (Api::Inner, 400) if dify.message == "user not found" => AppError::Internal(format!(
            "Dify does not know the user the host runs app calls as ({} {:?}); the inner API \
             takes it from the host's --user-id (DIFY_USER_ID, user_id in --dify-config): set \
             it to the id of an end user or account of this workspace, or leave it empty to \
             run as the workspace's default end user",
            dify.code, dify.message
        )),
        #[cfg(feature = "dify-http")]
        (Api::Service, 401) => AppError::PermissionDenied(format!(
            "Dify refused the app's Service API key ({} {:?})",
            dify.code, dify.message
        )),
        _ => AppError::from_dify(dify),
    }
}

/// Dify 1.13's inner API fails every completion app with a 500; `advice` is what to do.
fn completion_defect(dify: &DifyError, advice: &str) -> AppError {
    AppError::Internal(format!(
        "Dify answered HTTP 500 ({} {:?}). Dify 1.13's inner API fails every completion app \
         this way (a known Dify defect: its plugin path calls the completion generator without \
         a 'query', KeyError 'query'); {advice}",
        dify.code, dify.message
    ))
}
