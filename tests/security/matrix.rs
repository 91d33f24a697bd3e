//! The authorisation matrix as data: one row per (method, route) of the routes table in
//! `src/http/mod.rs`, saying who may call it and what a permitted call answers. What every
//! kind of caller must get follows from the row's `Access` in [`expect`]; `authz.rs` runs it.
//!
//! Paths and bodies carry `<placeholders>` filled from the fixture of the caller (its own
//! chat, filter, notification, …) so that a permitted call succeeds for real and a refused
//! one aims at an object that exists.

use Access::{Admin, Channel, Own, Public, Session, Signed, Visitor};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, API docs, sign-in, the UI. Unknown API paths are 404 for everyone.
    Public,
    /// Any signed-in manager: the session cookie (plus X-CSRF-Token to change anything) or
    /// an API token.
    Session,
    /// Admins only (an API token made with the admin scope acts as the admin who made it).
    Admin,
    /// The signed-in manager's own account (password, profile): a browser session only; an
    /// API token acts for its admin but is not them.
    Own,
    /// A platform webhook: only that channel's own secret gets in, never a manager's session
    /// or API token.
    Channel,
    /// A signed, expiring link (platforms fetching outbound media).
    Signed,
    /// A website visitor: the token `POST /widget/v1/{id}/sessions` handed out, for that
    /// channel; no manager credential counts.
    Visitor,
}

/// Calls that end the caller's session run on a throwaway one, so the rest of the matrix keeps
/// its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    No,
    /// A new session of the same account (sign-in, sign-out).
    Session,
    /// A new account of the same role (a password change ends every session of the account).
    Account,
}

#[derive(Clone, Copy, Debug)]
pub enum Body {
    None,
    Json(&'static str),
    /// (Content-Type, bytes)
    Raw(&'static str, &'static str),
}

pub struct Row {
    /// `METHOD /path/{param}` exactly as read from the routes table.
    pub route: &'static str,
    /// The concrete path to call, with placeholders.
    pub path: &'static str,
    pub access: Access,
    /// What a permitted call answers.
    pub ok: &'static [u16],
    pub body: Body,
    pub fresh: Fresh,
    /// A WebSocket: called with a real handshake.
    pub socket: bool,
}

const fn row(route: &'static str, path: &'static str, access: Access, ok: &'static [u16]) -> Row {
    Row {
        route,
        path,
        access,
        ok,
        body: Body::None,
        fresh: Fresh::No,
        socket: false,
    }
}

impl Row {
    const fn json(mut self, body: &'static str) -> Row {
        self.body = Body::Json(body);
        self
    }
    const fn raw(mut self, mime: &'static str, body: &'static str) -> Row {
        self.body = Body::Raw(mime, body);
        self
    }
    const fn fresh(mut self, f: Fresh) -> Row {
        self.fresh = f;
        self
    }
    const fn socket(mut self) -> Row {
        self.socket = true;
        self
    }
    pub fn method(&self) -> &'static str {
        self.route.split(' ').next().unwrap()
    }
}

const OK: &[u16] = &[200];
const CREATED: &[u16] = &[201];
const GONE: &[u16] = &[204];
const WEBHOOK_REFUSED: &[u16] = &[401, 403, 404];

#[rustfmt::skip]
pub const MATRIX: &[Row] = &[
    row("GET /healthz", "/healthz", Public, OK),
    row("HEAD /healthz", "/healthz", Public, OK),
    row("GET /api/v1/openapi.json", "/api/v1/openapi.json", Public, OK),
    row("GET /api/v1/docs", "/api/v1/docs", Public, OK),
    row("POST /api/v1/session", "/api/v1/session", Public, OK)
        .json(r#"{"login":"<login>","password":"<password>"}"#).fresh(Fresh::Session),
    row("GET /api/v1/session", "/api/v1/session", Session, OK),
    row("PATCH /api/v1/session", "/api/v1/session", Own, OK).json(r#"{"name":"Renamed <uniq>"}"#),
    row("DELETE /api/v1/session", "/api/v1/session", Session, GONE).fresh(Fresh::Session),
    row("POST /api/v1/session/password", "/api/v1/session/password", Own, GONE)
        .json(r#"{"current_password":"<password>","new_password":"a brand new passphrase"}"#)
        .fresh(Fresh::Account),
    row("GET /api/v1/managers", "/api/v1/managers", Session, OK),
    row("POST /api/v1/managers", "/api/v1/managers", Admin, CREATED)
        .json(r#"{"login":"new<uniq>","name":"New","role":"manager","password":"long enough password"}"#),
    row("PATCH /api/v1/managers/{id}", "/api/v1/managers/<victim>", Admin, OK)
        .json(r#"{"name":"Victim <uniq>"}"#),
    row("GET /api/v1/chats", "/api/v1/chats", Session, OK),
    row("GET /api/v1/chats/counts", "/api/v1/chats/counts", Session, OK),
    row("GET /api/v1/chats/{id}", "/api/v1/chats/<chat>", Session, OK),
    row("PATCH /api/v1/chats/{id}", "/api/v1/chats/<chat>", Session, OK).json(r#"{"bot_disabled":false}"#),
    row("POST /api/v1/chats/{id}/assistant/reset", "/api/v1/chats/<chat>/assistant/reset", Session, OK),
    // 422: the fixture configures no assistant; the check is who gets past auth.
    row("POST /api/v1/chats/{id}/suggest", "/api/v1/chats/<chat>/suggest", Session, &[200, 422]),
    row("GET /api/v1/chats/{id}/messages", "/api/v1/chats/<chat>/messages", Session, OK),
    row("POST /api/v1/chats/{id}/messages", "/api/v1/chats/<chat>/messages", Session, CREATED)
        .json(r#"{"text":"matrix says hi"}"#),
    row("POST /api/v1/chats/{id}/read", "/api/v1/chats/<chat>/read", Session, OK),
    row("POST /api/v1/chats/{id}/notes", "/api/v1/chats/<chat>/notes", Session, CREATED)
        .json(r#"{"text":"matrix note"}"#),
    row("GET /api/v1/chats/{id}/draft", "/api/v1/chats/<chat>/draft", Session, OK),
    row("PUT /api/v1/chats/{id}/draft", "/api/v1/chats/<chat>/draft", Session, OK).json(r#"{"text":"draft"}"#),
    row("DELETE /api/v1/chats/{id}/draft", "/api/v1/chats/<chat>/draft", Session, GONE),
    row("GET /api/v1/chats/{id}/typing", "/api/v1/chats/<chat>/typing", Session, OK),
    // 409 when the delivery is not in the failed state (any more): allowed, just not needed.
    row("POST /api/v1/messages/{id}/retry", "/api/v1/messages/<message>/retry", Session, &[200, 409]),
    row("POST /api/v1/messages/{id}/cancel", "/api/v1/messages/<message>/cancel", Session, &[200, 409]),
    row("GET /api/v1/contacts", "/api/v1/contacts", Session, OK),
    row("GET /api/v1/contacts/{id}", "/api/v1/contacts/<contact>", Session, OK),
    row("PATCH /api/v1/contacts/{id}", "/api/v1/contacts/<contact>", Session, OK).json(r#"{"marked":false}"#),
    row("POST /api/v1/contacts/{id}/tags", "/api/v1/contacts/<contact>/tags", Session, OK).json(r#"{"tag":"<tag>"}"#),
    row("DELETE /api/v1/contacts/{id}/tags/{tag}", "/api/v1/contacts/<contact>/tags/<tag>", Session, OK),
    row("GET /api/v1/contacts/{id}/log", "/api/v1/contacts/<contact>/log", Session, OK),
    // 404: the fixture's client has no merge suggestion; the check is who gets past auth.
    row("DELETE /api/v1/contacts/{id}/merge_suggestions/{other}", "/api/v1/contacts/<contact>/merge_suggestions/999999", Session, &[204, 404]),
    row("GET /api/v1/contacts/{id}/runs", "/api/v1/contacts/<contact>/runs", Session, OK),
    // 404: no such run or funnel in the fixture; the check is who gets past auth.
    row("POST /api/v1/runs/{id}/stop", "/api/v1/runs/999999/stop", Session, &[200, 404]),
    row("GET /api/v1/broadcasts", "/api/v1/broadcasts", Session, OK),
    row("POST /api/v1/broadcasts", "/api/v1/broadcasts", Admin, CREATED)
        .json(r#"{"filter":{"has_phone":true},"text":"matrix <uniq>"}"#),
    row("GET /api/v1/broadcasts/{id}", "/api/v1/broadcasts/999999", Session, &[200, 404]),
    row("POST /api/v1/broadcasts/{id}/pause", "/api/v1/broadcasts/999999/pause", Admin, &[200, 404]),
    row("POST /api/v1/broadcasts/{id}/resume", "/api/v1/broadcasts/999999/resume", Admin, &[200, 404]),
    row("POST /api/v1/broadcasts/{id}/cancel", "/api/v1/broadcasts/999999/cancel", Admin, &[200, 404]),
    row("GET /api/v1/funnels", "/api/v1/funnels", Session, OK),
    row("POST /api/v1/funnels", "/api/v1/funnels", Admin, CREATED)
        .json(r#"{"name":"Matrix <uniq>","trigger":{"kind":"manual"},"steps":[{"kind":"send","text":"hi"}]}"#),
    row("GET /api/v1/funnels/{id}", "/api/v1/funnels/999999", Session, &[200, 404]),
    row("PATCH /api/v1/funnels/{id}", "/api/v1/funnels/999999", Admin, &[200, 404]).json(r#"{"enabled":false}"#),
    row("DELETE /api/v1/funnels/{id}", "/api/v1/funnels/999999", Admin, &[204, 404]),
    row("POST /api/v1/funnels/{id}/start", "/api/v1/funnels/999999/start", Session, &[201, 404])
        .json(r#"{"contact_id":1}"#),
    row("GET /api/v1/contacts/{id}/tasks", "/api/v1/contacts/<contact>/tasks", Session, OK),
    row("POST /api/v1/contacts/{id}/tasks", "/api/v1/contacts/<contact>/tasks", Session, CREATED)
        .json(r#"{"title":"matrix task"}"#),
    // 200: the dialog the fixture opened is still active and is returned.
    row("POST /api/v1/contacts/{id}/dialogs", "/api/v1/contacts/<contact>/dialogs", Session, &[200, 201]),
    row("PATCH /api/v1/tasks/{id}", "/api/v1/tasks/<task>", Session, OK).json(r#"{"title":"renamed task"}"#),
    row("POST /api/v1/dialogs/{id}/close", "/api/v1/dialogs/<dialog>/close", Session, OK),
    row("GET /api/v1/notifications", "/api/v1/notifications", Session, OK),
    row("POST /api/v1/notifications/read_all", "/api/v1/notifications/read_all", Session, GONE),
    row("POST /api/v1/notifications/{id}/read", "/api/v1/notifications/<notification>/read", Session, OK),
    row("GET /api/v1/search/messages", "/api/v1/search/messages?q=hello", Session, OK),
    row("GET /api/v1/filters", "/api/v1/filters", Session, OK),
    row("POST /api/v1/filters", "/api/v1/filters", Session, CREATED)
        .json(r#"{"name":"matrix filter","filter":{"has_phone":true}}"#),
    row("PATCH /api/v1/filters/{id}", "/api/v1/filters/<filter>", Session, OK).json(r#"{"name":"renamed"}"#),
    row("POST /api/v1/filters/{id}/duplicate", "/api/v1/filters/<filter>/duplicate", Session, CREATED),
    row("DELETE /api/v1/filters/{id}", "/api/v1/filters/<filter>", Session, GONE),
    row("GET /api/v1/sales_plans", "/api/v1/sales_plans", Session, OK),
    row("POST /api/v1/sales_plans", "/api/v1/sales_plans", Session, &[200, 201])
        .json(r#"{"name":"Matrix plan","stages":["lead","won"]}"#),
    row("DELETE /api/v1/sales_plans/{name}", "/api/v1/sales_plans/<plan>", Session, GONE),
    row("GET /api/v1/audience", "/api/v1/audience?limit=5", Session, OK),
    row("GET /api/v1/contacts/export", "/api/v1/contacts/export", Session, OK),
    row("POST /api/v1/contacts/import", "/api/v1/contacts/import?dry_run=true", Session, OK)
        .raw("text/csv", "name,phone\nMatrix,+15550001111\n"),
    row("POST /api/v1/contacts/bulk", "/api/v1/contacts/bulk", Session, &[202])
        .json(r#"{"ids":[<contact>],"action":"tag_add","tag":"<tag>"}"#),
    // 404: nobody's job has that id; the check is who gets past auth.
    row("GET /api/v1/jobs/{id}", "/api/v1/jobs/no-such-job", Session, &[200, 404]),
    // 422: no client 999999 to merge in (merging the fixture's client would end it).
    row("POST /api/v1/contacts/{id}/merge", "/api/v1/contacts/<contact>/merge", Session, &[200, 422])
        .json(r#"{"from":[999999]}"#),
    row("GET /api/v1/contacts/{id}/duplicates", "/api/v1/contacts/<contact>/duplicates", Session, OK),
    row("GET /api/v1/contacts/{id}/orders", "/api/v1/contacts/<contact>/orders", Session, OK),
    row("GET /api/v1/orders", "/api/v1/orders", Session, OK),
    // 422: the plan may be gone by now (another row deletes it); the check is who gets past auth.
    row("POST /api/v1/orders", "/api/v1/orders", Session, &[201, 422])
        .json(r#"{"contact_id":<contact>,"plan":"Matrix plan","title":"Matrix order"}"#),
    row("GET /api/v1/orders/{id}", "/api/v1/orders/999999", Session, &[200, 404]),
    row("PATCH /api/v1/orders/{id}", "/api/v1/orders/999999", Session, &[200, 404]).json(r#"{"title":"renamed"}"#),
    row("DELETE /api/v1/orders/{id}", "/api/v1/orders/999999", Session, &[204, 404]),
    row("GET /api/v1/templates", "/api/v1/templates", Session, OK),
    row("POST /api/v1/templates", "/api/v1/templates", Session, CREATED)
        .json(r#"{"name":"Matrix <uniq>","text":"Hello, {client.name}"}"#),
    // 404: the fixture has no such template; the check is who gets past auth.
    row("PATCH /api/v1/templates/{name}", "/api/v1/templates/no-such-template", Session, &[200, 404])
        .json(r#"{"text":"changed"}"#),
    row("DELETE /api/v1/templates/{name}", "/api/v1/templates/no-such-template", Session, &[204, 404]),
    row("GET /api/v1/reports/overview", "/api/v1/reports/overview?from=2026-01-01&to=2026-01-31", Session, OK),
    row("GET /api/v1/replies", "/api/v1/replies", Session, OK),
    row("POST /api/v1/replies", "/api/v1/replies", Session, CREATED)
        .json(r#"{"shortcut":"m<uniq>","text":"Hello, {client.name}"}"#),
    // 404: the fixture has no such reply; the check is who gets past auth.
    row("PATCH /api/v1/replies/{id}", "/api/v1/replies/999999", Session, &[200, 404])
        .json(r#"{"text":"changed"}"#),
    row("DELETE /api/v1/replies/{id}", "/api/v1/replies/999999", Session, &[204, 404]),
    row("GET /api/v1/assistants", "/api/v1/assistants", Session, OK),
    row("GET /api/v1/assistants/usage", "/api/v1/assistants/usage", Admin, OK),
    row("GET /api/v1/channels", "/api/v1/channels", Session, OK),
    row("GET /api/v1/tokens", "/api/v1/tokens", Admin, OK),
    row("POST /api/v1/tokens", "/api/v1/tokens", Admin, CREATED).json(r#"{"name":"matrix token"}"#),
    row("DELETE /api/v1/tokens/{id}", "/api/v1/tokens/<token>", Admin, GONE),
    row("POST /api/v1/uploads", "/api/v1/uploads?name=a.txt", Session, CREATED).raw("text/plain", "hello upload"),
    row("PUT /api/v1/uploads", "/api/v1/uploads?name=b.txt", Session, CREATED).raw("text/plain", "hello again"),
    row("GET /api/v1/blobs/{sha}", "/api/v1/blobs/<sha>", Session, OK),
    row("GET /api/v1/ws", "/api/v1/ws", Session, &[101]).socket(),
    row("ANY /api/v1/*rest", "/api/v1/no-such-route", Public, &[404]),
    row("POST /webhooks/api/{id}", "/webhooks/api/crm", Channel, WEBHOOK_REFUSED).json("<api_body>"),
    row("POST /webhooks/telegram/{id}", "/webhooks/telegram/tg", Channel, WEBHOOK_REFUSED).json("<tg_body>"),
    row("POST /webhooks/viber/{id}", "/webhooks/viber/vb", Channel, WEBHOOK_REFUSED).json("<vb_body>"),
    row("GET /webhooks/whatsapp/{id}",
        "/webhooks/whatsapp/wa?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=42", Channel, WEBHOOK_REFUSED),
    row("POST /webhooks/whatsapp/{id}", "/webhooks/whatsapp/wa", Channel, WEBHOOK_REFUSED).json("<wa_body>"),
    row("GET /public/blobs/{sha}/{expires}/{sig}/{name}", "<link>", Signed, OK),
    row("HEAD /public/blobs/{sha}/{expires}/{sig}/{name}", "<link>", Signed, OK),
    row("GET /widget.js", "/widget.js", Public, OK),
    row("HEAD /widget.js", "/widget.js", Public, OK),
    row("GET /widget/v1/{id}/config", "/widget/v1/site/config", Public, OK),
    row("POST /widget/v1/{id}/sessions", "/widget/v1/site/sessions", Public, CREATED),
    row("GET /widget/v1/{id}/messages", "/widget/v1/site/messages", Visitor, OK),
    row("POST /widget/v1/{id}/messages", "/widget/v1/site/messages", Visitor, CREATED)
        .json(r#"{"id":"m<uniq>","text":"visitor says hi"}"#),
    row("POST /widget/v1/{id}/uploads", "/widget/v1/site/uploads?name=v.txt", Visitor, CREATED)
        .raw("text/plain", "visitor file"),
    row("GET /widget/v1/{id}/files/{sha}", "/widget/v1/site/files/<vsha>", Visitor, OK),
    row("POST /widget/v1/{id}/profile", "/widget/v1/site/profile", Visitor, OK).json(r#"{"name":"Vera"}"#),
    row("POST /widget/v1/{id}/typing", "/widget/v1/site/typing", Visitor, GONE),
    row("POST /widget/v1/{id}/seen", "/widget/v1/site/seen", Visitor, OK).json(r#"{"up_to":0}"#),
    row("GET /widget/v1/{id}/ws", "/widget/v1/site/ws", Visitor, &[101]).socket(),
    row("GET /", "/", Public, OK),
    row("HEAD /", "/", Public, OK),
    row("GET /*path", "/chats/1", Public, OK),
    row("HEAD /*path", "/chats/1", Public, OK),
];

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    /// A well-formed but unknown session cookie.
    ForgedCookie,
    /// An unknown `Authorization: Bearer` token.
    BogusBearer,
    Manager,
    Admin,
    /// An admin's API token.
    Bearer,
    /// A manager's live session cookie without the X-CSRF-Token header.
    ManagerNoCsrf,
    /// An admin's live session cookie with the CSRF token of another of their sessions.
    AdminWrongCsrf,
    /// A website visitor's token.
    Visitor,
}

pub const CALLERS: &[Caller] = &[
    Caller::Anonymous,
    Caller::ForgedCookie,
    Caller::BogusBearer,
    Caller::Manager,
    Caller::Admin,
    Caller::Bearer,
    Caller::ManagerNoCsrf,
    Caller::AdminWrongCsrf,
    Caller::Visitor,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The call is permitted and answers one of these.
    Ok(&'static [u16]),
    /// The call is refused with this status, the message containing this text.
    Refused(u16, &'static str),
    /// Nothing to learn (a GET without CSRF is the same as a GET with it).
    Skip,
}

/// The documented outcome of `method` on `row` for `caller`.
pub fn expect(row: &Row, method: &str, caller: Caller) -> Expect {
    use Caller::{
        Admin as Boss, AdminWrongCsrf, Anonymous, Bearer, BogusBearer, ForgedCookie, Manager,
        ManagerNoCsrf, Visitor as Guest,
    };
    let changes = !matches!(method, "GET" | "HEAD" | "OPTIONS");
    let no_csrf = matches!(caller, ManagerNoCsrf | AdminWrongCsrf);
    match row.access {
        Public | Signed if no_csrf => Expect::Skip,
        Public | Signed => Expect::Ok(row.ok),
        // Whatever the caller carries, it is not the channel's secret.
        Channel => Expect::Ok(WEBHOOK_REFUSED),
        Visitor => match caller {
            Guest => Expect::Ok(row.ok),
            // A cookie means nothing here; the plain manager caller covers it.
            ManagerNoCsrf | AdminWrongCsrf => Expect::Skip,
            _ => Expect::Refused(401, ""),
        },
        Session | Admin | Own => match caller {
            Anonymous | ForgedCookie | BogusBearer | Guest => Expect::Refused(401, ""),
            ManagerNoCsrf | AdminWrongCsrf if changes => Expect::Refused(403, "X-CSRF-Token"),
            ManagerNoCsrf | AdminWrongCsrf => Expect::Skip,
            Manager if row.access == Admin => Expect::Refused(403, "admin"),
            Bearer if row.access == Own => Expect::Refused(403, "session"),
            Manager | Boss | Bearer => Expect::Ok(row.ok),
        },
    }
}
