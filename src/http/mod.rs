//! The HTTP layer: one routes table, the middleware stack, and the plain-HTTP redirector.
//! Handlers extract, authorise, call one service and map the result.

pub mod api;
pub mod auth;
pub mod body;
pub mod error;
pub mod guard;
pub mod handshake;
mod health;
pub mod public;
pub mod ui;
pub mod views;
mod webhooks;
mod widget;
mod ws;

use std::sync::Arc;
use std::time::Instant;

use poem::http::{Method, StatusCode, header};
use poem::middleware::SetHeader;
use poem::{
    Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, get, handler, post,
};

use crate::accounts::Accounts;
use crate::config::Config;
use crate::error::Error;
use crate::inbox::Inbox;
use crate::inbox::blobs::Blobs;
use crate::realtime::Hub;

pub struct AppState {
    pub config: Arc<Config>,
    pub accounts: Arc<Accounts>,
    pub inbox: Inbox,
    pub blobs: Blobs,
    /// What channel adapters need (webhook handlers hand requests to them).
    pub channels: crate::channels::Ctx,
    pub hub: Arc<Hub>,
    pub http: reqwest::Client,
    pub search: Arc<crate::search::Search>,
    pub started: Instant,
    /// Website-widget visitors: live feeds and per-address limits.
    pub widget: crate::channels::widget::Widget,
    /// Flips to true when the server is stopping (live connections close).
    pub stop: tokio::sync::watch::Receiver<bool>,
    /// Request bodies buffered in memory at once (see `body`).
    pub bodies: Arc<body::BodyBudget>,
    /// The AI assistants, for suggested replies (their worker answers chats on its own).
    pub assistants: Arc<crate::automation::assistant::Assistants>,
}

/// Scripts and styles only from this origin, nothing inline, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub fn routes(state: Arc<AppState>) -> impl Endpoint<Output = Response> {
    use api::{chats, contacts, dialogs, files, notifications, tasks, tokens};
    use poem::{delete, patch};
    let max_body = state.config.limits.max_body_bytes;
    let budget = state.bodies.clone();
    let limited = Route::new()
        .at(
            "/session",
            post(api::session::login)
                .get(api::session::me)
                .patch(api::session::update_profile)
                .delete(api::session::logout),
        )
        .at("/session/password", post(api::session::change_password))
        .at(
            "/managers",
            get(api::managers::list).post(api::managers::create),
        )
        .at("/managers/:id", patch(api::managers::update))
        .at("/chats", get(chats::list))
        .at("/chats/counts", get(chats::counts))
        .at("/chats/:id", get(chats::get).patch(chats::patch))
        .at("/chats/:id/assistant/reset", post(chats::reset_assistant))
        .at("/chats/:id/suggest", post(chats::suggest))
        .at(
            "/chats/:id/messages",
            get(chats::messages).post(chats::send),
        )
        .at("/chats/:id/read", post(chats::read))
        .at("/chats/:id/notes", post(chats::note))
        .at(
            "/chats/:id/draft",
            get(chats::get_draft)
                .put(chats::put_draft)
                .delete(chats::delete_draft),
        )
        .at("/chats/:id/typing", get(chats::typing))
        .at("/messages/:id/retry", post(chats::retry))
        .at("/messages/:id/cancel", post(chats::cancel_delivery))
        .at("/contacts", get(contacts::list))
        .at("/audience", get(api::audience::table))
        .at("/contacts/export", get(api::audience::export))
        .at("/contacts/bulk", post(api::audience::bulk))
        .at("/contacts/:id/merge", post(api::audience::merge))
        .at("/contacts/:id/duplicates", get(api::audience::duplicates))
        .at("/contacts/:id/orders", get(api::orders::of_contact))
        .at("/jobs/:id", get(api::audience::get_job))
        .at("/orders", get(api::orders::list).post(api::orders::create))
        .at(
            "/orders/:id",
            get(api::orders::get)
                .patch(api::orders::patch)
                .delete(api::orders::delete),
        )
        .at("/contacts/:id", get(contacts::get).patch(contacts::patch))
        .at("/contacts/:id/tags", post(contacts::add_tag))
        .at("/contacts/:id/tags/:tag", delete(contacts::remove_tag))
        .at("/contacts/:id/log", get(contacts::log))
        .at(
            "/contacts/:id/merge_suggestions/:other",
            delete(contacts::dismiss_merge),
        )
        .at("/contacts/:id/tasks", get(tasks::list).post(tasks::add))
        .at("/contacts/:id/runs", get(api::funnels::runs))
        .at("/runs/:id/stop", post(api::funnels::stop_run))
        .at(
            "/funnels",
            get(api::funnels::list).post(api::funnels::create),
        )
        .at(
            "/funnels/:id",
            get(api::funnels::get)
                .patch(api::funnels::patch)
                .delete(api::funnels::delete),
        )
        .at("/funnels/:id/start", post(api::funnels::start))
        .at(
            "/broadcasts",
            get(api::broadcasts::list).post(api::broadcasts::create),
        )
        .at("/broadcasts/:id", get(api::broadcasts::get))
        .at("/broadcasts/:id/pause", post(api::broadcasts::pause))
        .at("/broadcasts/:id/resume", post(api::broadcasts::resume))
        .at("/broadcasts/:id/cancel", post(api::broadcasts::cancel))
        .at("/contacts/:id/dialogs", post(dialogs::open))
        .at("/tasks/:id", patch(tasks::patch))
        .at("/dialogs/:id/close", post(dialogs::close))
        .at("/notifications", get(notifications::list))
        .at("/notifications/read_all", post(notifications::read_all))
        .at("/notifications/:id/read", post(notifications::read))
        .at("/search/messages", get(api::search::messages))
        .at(
            "/filters",
            get(api::filters::list).post(api::filters::create),
        )
        .at(
            "/filters/:id",
            patch(api::filters::update).delete(api::filters::delete),
        )
        .at("/filters/:id/duplicate", post(api::filters::duplicate))
        .at("/sales_plans", get(api::plans::list).post(api::plans::put))
        .at("/sales_plans/:name", delete(api::plans::delete))
        .at(
            "/templates",
            get(api::templates::list).post(api::templates::create),
        )
        .at(
            "/templates/:name",
            patch(api::templates::patch).delete(api::templates::delete),
        )
        .at("/reports/overview", get(api::reports::overview))
        .at(
            "/replies",
            get(api::replies::list).post(api::replies::create),
        )
        .at(
            "/replies/:id",
            patch(api::replies::patch).delete(api::replies::delete),
        )
        .at("/assistants", get(api::settings::assistants))
        .at("/assistants/usage", get(api::settings::assistant_usage))
        .at("/channels", get(api::settings::channels))
        .at("/tokens", get(tokens::list).post(tokens::create))
        .at("/tokens/:id", delete(tokens::delete))
        .at("/blobs/:sha", get(files::blob))
        .at("/ws", get(ws::ws))
        .at("/openapi.json", get(api::docs::spec))
        .at("/docs", get(api::docs::page))
        .at("/*rest", api_not_found)
        .around({
            let budget = budget.clone();
            move |ep, req| limit_body(ep, req, max_body, budget.clone())
        });
    // Uploads stream to disk with their own cap instead of being buffered.
    let api = Route::new()
        .at("/uploads", post(files::upload).put(files::upload))
        // A client list is bigger than a JSON body: read with the upload cap, by the handler.
        .at("/contacts/import", post(api::audience::import))
        .nest("/", limited);
    // Webhook handlers check the channel and its credential from the head, then read the body
    // themselves (`body::read`): an unauthenticated caller never gets a body buffered.
    let hooks = Route::new()
        .at("/api/:id", post(webhooks::api))
        .at("/telegram/:id", post(webhooks::telegram))
        .at("/viber/:id", post(webhooks::viber))
        .at("/whatsapp/:id", webhooks::whatsapp());
    // The visitor API, called from other sites' pages (CORS and Origin checks in `guard`).
    let visitor_api = Route::new()
        .at("/:id/config", get(widget::config))
        .at("/:id/sessions", post(widget::create_session))
        .at("/:id/messages", get(widget::history).post(widget::send))
        .at("/:id/files/:sha", get(widget::file))
        .at("/:id/profile", post(widget::profile))
        .at("/:id/typing", post(widget::typing))
        .at("/:id/seen", post(widget::seen))
        .at("/:id/ws", get(widget::ws))
        .around(move |ep, req| limit_body(ep, req, 64 * 1024, budget.clone()));
    let visitors = Route::new()
        .at("/:id/uploads", post(widget::upload))
        .nest("/", visitor_api)
        .around(widget::guard);

    Route::new()
        .at("/healthz", get(health::health).head(health::health))
        .nest("/api/v1", api)
        .nest("/webhooks", hooks)
        .at(
            "/public/blobs/:sha/:expires/:sig/:name",
            get(public::blob).head(public::blob),
        )
        .at("/widget.js", get(widget::script).head(widget::script))
        .nest("/widget/v1", visitors)
        .at("/", get(ui::asset).head(ui::asset))
        .at("/*path", get(ui::asset).head(ui::asset))
        .data(state)
        .catch_all_error(error::to_json)
        .with(security_headers())
        .map_to_response()
}

fn security_headers() -> SetHeader {
    SetHeader::new()
        .overriding("content-security-policy", CSP)
        .overriding("strict-transport-security", "max-age=31536000")
        .overriding("x-content-type-options", "nosniff")
        .overriding("x-frame-options", "DENY")
        .overriding("referrer-policy", "no-referrer")
        .overriding("cross-origin-opener-policy", "same-origin")
        .overriding(
            "permissions-policy",
            "camera=(), geolocation=(), microphone=(self)",
        )
}

#[handler]
fn api_not_found(req: &Request) -> poem::Result<()> {
    Err(Error::NotFound(format!("{} {}", req.method(), req.uri().path())).into())
}

/// Bodies are read in full, bounded by `body::read` (size `max`, a deadline, the shared
/// budget), before the endpoint runs. Bodiless requests pass (poem's SizeLimit answers 411
/// to a GET without Content-Length).
async fn limit_body<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    max: usize,
    budget: Arc<body::BodyBudget>,
) -> poem::Result<Response> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    let raw = req.take_body();
    let (bytes, held) = body::read(&budget, &req, raw, max).await?.take();
    req.set_body(bytes);
    let resp = ep.call(req).await.map(IntoResponse::into_response);
    drop(held);
    resp
}

/// The plain-HTTP listener: every request is sent to the same path over HTTPS.
pub fn redirect_routes(https_port: u16, public_url: Option<String>) -> impl Endpoint {
    poem::endpoint::make_sync(move |req: Request| {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let base = match &public_url {
            Some(u) if u.starts_with("https://") => u.trim_end_matches('/').to_string(),
            _ => {
                let host = req
                    .header(header::HOST)
                    .map(strip_port)
                    .unwrap_or("localhost");
                if https_port == 443 {
                    format!("https://{host}")
                } else {
                    format!("https://{host}:{https_port}")
                }
            }
        };
        Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, format!("{base}{path}"))
            .finish()
    })
    .into_endpoint()
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 2]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    #[test]
    fn strip_port_handles_v4_v6_and_names() {
        assert_eq!(super::strip_port("example.com:8080"), "example.com");
        assert_eq!(super::strip_port("example.com"), "example.com");
        assert_eq!(super::strip_port("[::1]:8080"), "[::1]");
    }
}
