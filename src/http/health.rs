use std::sync::Arc;

use poem::web::Data;
use poem::{Response, handler};
use serde_json::json;

use super::AppState;

/// Liveness and a store check, without auth (load balancers, install script, monitoring).
#[handler]
pub async fn health(Data(st): Data<&Arc<AppState>>) -> Response {
    let store_ok = st.inbox.store_answers().await;
    let rebuilding = st.search.rebuilding();
    let body = json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "store": if store_ok { "ok" } else { "error" },
        "index": {
            // "rebuilding" after a restore: the server serves, and searches answer from what
            // is indexed so far (marked `index_building`) until it is done.
            "state": if rebuilding.is_some() { "rebuilding" } else { "ready" },
            "rebuild": rebuilding.as_ref().map(|r| json!({"index": r.index, "done": r.done, "total": r.total})),
            "contacts": st.search.stats().0,
            "messages": st.search.stats().1,
            "applied_seq": st.search.applied(),
            // Changes committed to the store but not yet searchable; while an index is
            // rebuilt, none of its rows are, so it counts at least what is left of that.
            "behind": st
                .search
                .last_change()
                .map(|last| last.saturating_sub(st.search.applied()))
                .unwrap_or(0)
                .max(rebuilding.as_ref().map_or(0, |r| r.total.saturating_sub(r.done).max(1))),
        },
        "uptime_s": st.started.elapsed().as_secs(),
    });
    Response::builder()
        .status(if store_ok {
            poem::http::StatusCode::OK
        } else {
            poem::http::StatusCode::SERVICE_UNAVAILABLE
        })
        .header("cache-control", "no-store")
        .content_type("application/json")
        .body(body.to_string())
}
