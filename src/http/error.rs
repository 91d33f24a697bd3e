//! Errors as JSON `{code, message}` with the status from `Error::status`. Errors raised by
//! poem itself (bad JSON, unknown route, wrong method) get the same shape.

use poem::Response;
use poem::error::ResponseError;
use poem::http::{StatusCode, header};

use crate::error::Error;

impl ResponseError for Error {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(Error::status(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        let status = ResponseError::status(self);
        // Internal details go to the log, not to the client.
        let message = if status.is_server_error() && !matches!(self, Error::Unavailable(_)) {
            tracing::error!("request failed: {self}");
            "internal error; see the server log".to_string()
        } else {
            self.to_string()
        };
        let mut resp = json_error(status, self.code(), &message);
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
    if err.is::<Error>() || err.is::<super::body::Refused>() {
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
