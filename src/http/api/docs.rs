//! The OpenAPI document and its browsable page (both from the binary, no auth: the API's
//! shape is not a secret, and integrators read it before they have a token).

use poem::http::header;
use poem::{Response, handler};

const SPEC: &str = include_str!("../../../assets/openapi.json");

#[handler]
pub fn spec() -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(SPEC)
}

#[handler]
pub fn page() -> Response {
    match crate::http::ui::embedded("docs/index.html") {
        Some(html) => Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(html),
        None => Response::builder()
            .status(poem::http::StatusCode::NOT_FOUND)
            .finish(),
    }
}
