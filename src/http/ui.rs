//! The embedded web UI. poem's EmbeddedFilesEndpoint answers HEAD with 405, sends no
//! Cache-Control and has no SPA fallback, so this small endpoint does it properly.

use poem::http::{Method, StatusCode, header};
use poem::{IntoResponse, Request, Response, handler};

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Web;

#[handler]
pub fn asset(req: &Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    let (path, file) = match Web::get(path).filter(|_| !path.is_empty()) {
        Some(f) => (path, f),
        // Client-side routes (and `/`) get the app; a missing asset under a known folder is a
        // real 404 so a typo does not silently load HTML as JavaScript.
        None if path.starts_with("js/") || path.starts_with("css/") || path.contains('.') => {
            return StatusCode::NOT_FOUND.into_response();
        }
        None => match Web::get("index.html") {
            Some(f) => ("index.html", f),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    respond(req, path, file)
}

/// One embedded file by its path under `web/` (404 when absent), with the same caching.
pub fn file(req: &Request, path: &str) -> Response {
    match Web::get(path) {
        Some(f) => respond(req, path, f),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn respond(req: &Request, path: &str, file: rust_embed::EmbeddedFile) -> Response {
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    // Not content-hashed file names, so everything revalidates (cheap: 304 by ETag).
    let cache = "no-cache";
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .header(header::CACHE_CONTROL, cache)
            .finish();
    }
    let mime = if path.ends_with(".js") {
        "text/javascript; charset=utf-8".to_string()
    } else {
        let m = file.metadata.mimetype().to_string();
        if m.starts_with("text/") && !m.contains("charset") {
            format!("{m}; charset=utf-8")
        } else {
            m
        }
    };
    let len = file.data.len();
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, cache);
    if req.method() == Method::HEAD {
        builder.header(header::CONTENT_LENGTH, len).finish()
    } else {
        builder.body(file.data.into_owned())
    }
}

/// Number of embedded UI files (health output).
pub fn file_count() -> usize {
    Web::iter().count()
}

/// An embedded file's bytes.
pub fn embedded(path: &str) -> Option<Vec<u8>> {
    Web::get(path).map(|f| f.data.into_owned())
}
