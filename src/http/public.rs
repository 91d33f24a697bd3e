//! Links that work without a session: `GET /public/blobs/{sha}/{expires}/{sig}/{name}`
//! serves one stored file until `expires` (unix seconds) to whoever holds the link, so a
//! platform that fetches media by URL (Viber) can download an outbound attachment. The
//! signature covers the digest and the expiry; the name is only for the platform's eyes.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use crate::accounts::same_secret;
use crate::channels::blob_link_signature;
use crate::error::Error;
use crate::http::AppState;
use crate::http::api::files::serve_blob;

/// # `GET /public/blobs/{sha256}/{expires}/{sig}/{name}`
/// One stored file, for holders of a signed, unexpired link. 403 when the signature is
/// wrong or the link expired, 404 when the file is unknown.
#[handler]
pub async fn blob(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path((sha, expires, sig, _name)): Path<(String, String, String, String)>,
) -> poem::Result<Response> {
    let bad = || Error::Forbidden("this file link is not valid".into());
    let expires: i64 = expires.parse().map_err(|_| bad())?;
    let want = blob_link_signature(&st.channels.link_key, &sha, expires);
    if !same_secret(sig.as_bytes(), want.as_bytes()) {
        return Err(bad().into());
    }
    if expires < crate::domain::now_ms() / 1000 {
        return Err(Error::Forbidden("this file link has expired".into()).into());
    }
    // Private: the link is a capability; shared caches must not hand the file to others.
    serve_blob(st, req, &sha, "private, max-age=3600").await
}
