//! `/api/v1/reports/overview` (T3): the team's figures over local days, as JSON or, with
//! `Accept: text/csv`, one CSV line per day.

use std::sync::Arc;

use poem::http::HeaderMap;
use poem::web::{Data, Json, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;

use crate::error::Error;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::views;
use crate::inbox::reports::ReportQuery;

#[derive(Deserialize)]
pub struct OverviewQuery {
    from: Option<String>,
    to: Option<String>,
    channel: Option<String>,
    manager: Option<u64>,
}

#[handler]
pub async fn overview(
    Data(st): Data<&Arc<AppState>>,
    _a: Auth,
    headers: &HeaderMap,
    Query(q): Query<OverviewQuery>,
) -> poem::Result<Response> {
    let need = |v: Option<String>, name: &str| {
        v.filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::invalid(name, "give a date (YYYY-MM-DD)"))
    };
    let (from, to) = (need(q.from, "from")?, need(q.to, "to")?);
    let report = st
        .inbox
        .report(ReportQuery {
            from: from.clone(),
            to: to.clone(),
            channel: q.channel.filter(|c| !c.is_empty()),
            manager: q.manager,
        })
        .await?;
    let csv = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"));
    if csv {
        return Ok(Response::builder()
            .content_type("text/csv; charset=utf-8")
            .header(
                "content-disposition",
                format!("attachment; filename=\"parley-report-{from}-{to}.csv\""),
            )
            .body(views::report_csv(&report)));
    }
    Ok(Json(views::report_json(&from, &to, &report)).into_response())
}
