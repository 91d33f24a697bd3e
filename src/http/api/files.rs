//! `/api/v1/uploads` (raw body, streamed to disk with a size cap) and `/api/v1/blobs/{sha}`.

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Json, Path, Query};
use poem::{Body, IntoResponse, Request, Response, handler};
use serde::Deserialize;

use crate::domain::inbox::Attachment;
use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views::attachment_json;
use crate::inbox::blobs::{Blobs, Uploader, inline_type};

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

#[handler]
pub async fn upload(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Auth(id): Auth,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> poem::Result<Response> {
    let who = Uploader::Manager(id.manager.id);
    let att = receive(req, &st.blobs, who, q.name, body).await?;
    Ok((StatusCode::CREATED, Json(attachment_json(&att))).into_response())
}

/// Store a raw upload body as `who`'s (type from Content-Type, size capped by `blobs`).
pub async fn receive(
    req: &Request,
    blobs: &Blobs,
    who: Uploader,
    name: Option<String>,
    body: Body,
) -> poem::Result<Attachment> {
    let max = blobs.max_bytes;
    if req
        .header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(Error::TooLarge(format!("files are limited to {max} bytes")).into());
    }
    let mime = req
        .header(header::CONTENT_TYPE)
        .map(|m| m.split(';').next().unwrap_or("").trim().to_lowercase())
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::Unsupported("send the file's type in Content-Type".into()))?;
    let name = name.unwrap_or_else(|| "file".into());
    let stream = body.into_bytes_stream();
    Ok(blobs
        .put_upload(who, &mime, &name, Box::pin(stream))
        .await?)
}

#[handler]
pub async fn blob(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    Path(sha): Path<String>,
) -> poem::Result<Response> {
    // Content never changes for a given digest.
    serve_blob(st, req, &sha, "private, max-age=31536000, immutable").await
}

/// A stored blob with its recorded type; also behind the public signed links.
pub(crate) async fn serve_blob(
    st: &AppState,
    req: &Request,
    sha: &str,
    cache_control: &str,
) -> poem::Result<Response> {
    let (meta, path) = st.blobs.find(sha).await?;
    let etag = format!("\"{sha}\"");
    if req.header(header::IF_NONE_MATCH) == Some(etag.as_str()) {
        return Ok(StatusCode::NOT_MODIFIED
            .with_header(header::ETAG, etag)
            .into_response());
    }
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| Error::NotFound(format!("file {sha}")))?;
    let disposition = if inline_type(&meta.mime) {
        "inline"
    } else {
        "attachment"
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, meta.mime)
        .header(header::CONTENT_LENGTH, meta.size)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, cache_control)
        .header("x-content-type-options", "nosniff")
        .body(Body::from_async_read(file)))
}
