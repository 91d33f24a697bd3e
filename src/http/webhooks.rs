//! Inbound webhooks from platforms and integrations. A webhook answers 2xx only after the
//! message is committed; unauthentic requests get 401 and change nothing.
//!
//! Every platform's request takes the same way (`channels::pipeline`): the channel must exist
//! (404), its adapter checks the request head before a byte of the body is read (a header
//! credential, or at least a well-formed signature header: 401), then the body is read,
//! bounded by `body::read` (size, deadline, the server-wide budget), and handed to the
//! pipeline. This layer only routes and writes the adapter's answer as HTTP.

use std::sync::Arc;

use poem::web::{Data, Json, Path};
use poem::{Body, IntoResponse, Request, Response, handler};
use serde_json::json;

use crate::channels::adapter::{Answer, Head};
use crate::channels::pipeline;
use crate::config::ChannelConfig;
use crate::error::Error;
use crate::http::AppState;

/// Adapters read the request head through this.
struct RequestHead<'a>(&'a Request);

impl Head for RequestHead<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.header(name)
    }
}

/// The configured channel `id` of the given kind; any other id is 404 (whoever asks).
fn channel<'a>(st: &'a AppState, id: &str, kind: &str) -> Result<&'a ChannelConfig, Error> {
    st.inbox
        .channels
        .get(id)
        .filter(|c| c.kind.kind_name() == kind)
        .ok_or_else(|| Error::NotFound(format!("{kind} channel {id:?}")))
}

/// One webhook request to channel `id` of `kind`, through the pipeline.
async fn receive(
    st: &AppState,
    req: &Request,
    kind: &str,
    id: &str,
    body: Body,
) -> poem::Result<Response> {
    let ch = channel(st, id, kind)?;
    let head = RequestHead(req);
    let adapter = crate::channels::platforms::of(&ch.kind);
    adapter.check_head(ch, &head)?;
    let max = super::body::max_webhook(&st.config.limits);
    let body = super::body::read(&st.bodies, req, body, max).await?;
    let answer = pipeline::receive(&st.channels, adapter, ch, &head, &body).await?;
    Ok(match answer {
        Answer::Empty => poem::http::StatusCode::OK.into_response(),
        Answer::Ok => Json(json!({"ok": true})).into_response(),
        Answer::Received(n) => Json(json!({ "received": n })).into_response(),
        Answer::Stored(r) => Json(json!({
            "chat_id": r.chat_id,
            "message_id": r.message_id,
            "contact_id": r.contact_id,
            "duplicate": r.duplicate,
        }))
        .into_response(),
    })
}

/// # `POST /webhooks/api/{id}`
/// One message from an integration, with the channel's bearer token.
#[handler]
pub async fn api(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    receive(st, req, "api", &id, body).await
}

/// # `POST /webhooks/telegram/{id}`
/// One Update per request, with our secret token in a header. A 5xx makes Telegram send the
/// update again later; an unparseable but authentic body is acknowledged.
#[handler]
pub async fn telegram(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    receive(st, req, "telegram", &id, body).await
}

/// # `POST /webhooks/viber/{id}`
/// Viber callbacks (messages, subscriptions, receipts), authenticated by
/// `X-Viber-Content-Signature` over the raw body. The answer has no body: Viber would take
/// one as a welcome message.
#[handler]
pub async fn viber(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    receive(st, req, "viber", &id, body).await
}

/// `GET|POST /webhooks/whatsapp/{id}`: the handshake and the events.
pub fn whatsapp() -> poem::RouteMethod {
    poem::get(whatsapp_verify).post(whatsapp_events)
}

/// WhatsApp's verification handshake: Meta calls it when the callback URL is saved.
#[handler]
pub async fn whatsapp_verify(
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    poem::web::Query(q): poem::web::Query<std::collections::HashMap<String, String>>,
) -> poem::Result<poem::Response> {
    use crate::channels::whatsapp::{Wa, handshake};
    let wa = Wa::of(channel(st, &id, "whatsapp")?)
        .ok_or_else(|| Error::NotFound(format!("whatsapp channel {id:?}")))?;
    let param = |k: &str| q.get(k).map(String::as_str);
    let challenge = handshake(
        wa.verify_token,
        param("hub.mode"),
        param("hub.verify_token"),
        param("hub.challenge"),
    )
    .ok_or_else(|| {
        Error::Forbidden("hub.mode must be subscribe and hub.verify_token this channel's".into())
    })?;
    Ok(poem::Response::builder()
        .content_type("text/plain; charset=utf-8")
        .body(challenge.to_string()))
}

/// WhatsApp events, signed with HMAC-SHA256 of the raw body in `X-Hub-Signature-256`. A 5xx
/// makes Meta deliver the body again (a media file could not be fetched yet, or storage is
/// unavailable); an authentic body that is not JSON is acknowledged so it is not resent.
#[handler]
pub async fn whatsapp_events(
    req: &Request,
    Data(st): Data<&Arc<AppState>>,
    Path(id): Path<String>,
    body: Body,
) -> poem::Result<Response> {
    receive(st, req, "whatsapp", &id, body).await
}
