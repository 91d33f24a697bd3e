//! Errors as JSON `{code, message}` with the status from `Error::status`. Errors raised by
//! poem itself (bad JSON, unknown route, wrong method) get the same shape.

use poem::Response;
use poem::error::ResponseError;
use poem::http::{StatusCode, header};

use std::fmt;
use std::time::Duration;

use crate::error::Error;

impl ResponseError for Error {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(Error::status(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        let status = ResponseError::status(self);
        // Internal details go to the log, not to the client.
        let message = if status.is_server_error()
            && !matches!(self, Error::Unavailable(_) | Error::Upstream(_))
        {
            tracing::error!("request failed: {self}");
            "internal error; see the server log".to_string()
        } else {
            self.to_string()
        };
        let mut resp = match self {
            // The field a 422 is about, on its own, so a form can show the error beside it.
            Error::Invalid { field, .. } => {
                let body =
                    serde_json::json!({"code": self.code(), "message": message, "field": field});
                Response::builder()
                    .status(status)
                    .content_type("application/json")
                    .body(body.to_string())
            }
            // Where a merged-away client went, so a stale link can follow it.
            Error::Merged { into, .. } => {
                let body = serde_json::json!({"code": self.code(), "message": message, "merged_into": into});
                Response::builder()
                    .status(status)
                    .content_type("application/json")
                    .body(body.to_string())
            }
            _ => json_error(status, self.code(), &message),
        };
        match self {
            Error::RateLimited(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, secs.max(1).into());
            }
            Error::Unavailable(_) => {
                resp.headers_mut().insert(header::RETRY_AFTER, 5u64.into());
            }
            _ => {}
        }
        resp
    }
}

pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "code": code, "message": message });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        411 => "length_required",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_field",
        429 => "rate_limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "error",
    }
}

/// Turn any error into the JSON shape; ours already know how.
pub async fn to_json(err: poem::Error) -> Response {
    // Ours already say what is wrong; a body refusal's 503 is not an internal error.
    if err.is::<Error>() || err.is::<Refused>() {
        return err.into_response();
    }
    let status = err.status();
    let message = if status.is_server_error() {
        tracing::error!("request failed: {err}");
        "internal error; see the server log".to_string()
    } else {
        err.to_string()
    };
    let original = err.into_response();
    let mut json = json_error(status, code_for(status), &message);
    // Keep headers poem set (e.g. Allow on 405) but replace the plain-text body.
    for (k, v) in original.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            json.headers_mut().insert(k.clone(), v.clone());
        }
    }
    json
}

/// What a 503 for a full budget tells the caller to wait.
const RETRY_AFTER_SECS: u64 = 5;

/// Why a body was not read. Its own type (not `crate::error::Error`) so 408 and the budget's
/// 503 carry their own wording and headers.
#[derive(Debug)]
pub enum Refused {
    TooLarge(usize),
    Busy,
    TooSlow(Duration),
    Broken(String),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooLarge(max) => write!(f, "request body is larger than {max} bytes"),
            Refused::Busy => write!(
                f,
                "the server is receiving too many request bodies at once; try again shortly"
            ),
            Refused::TooSlow(d) => write!(
                f,
                "the request body did not arrive within {} s",
                d.as_secs()
            ),
            Refused::Broken(e) => write!(f, "cannot read the request body: {e}"),
        }
    }
}

impl std::error::Error for Refused {}

impl ResponseError for Refused {
    fn status(&self) -> StatusCode {
        match self {
            Refused::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refused::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Refused::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn as_response(&self) -> Response {
        let status = ResponseError::status(self);
        let code = match self {
            Refused::TooLarge(_) => "payload_too_large",
            Refused::Busy => "unavailable",
            Refused::TooSlow(_) => "request_timeout",
            Refused::Broken(_) => "bad_request",
        };
        let mut resp = json_error(status, code, &self.to_string());
        match self {
            Refused::Busy => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, RETRY_AFTER_SECS.into());
            }
            // The rest of the body may still be on its way: do not read it as a next request.
            Refused::TooSlow(_) | Refused::TooLarge(_) | Refused::Broken(_) => {
                resp.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
        }
        resp
    }
}
