//! The server's routes as data, read from the routes table in `src/http/mod.rs` (and the
//! route helpers it calls), so tests that must cover every route (the OpenAPI document, the
//! authorisation matrix) fail when a route is added without them.
//!
//! The reader understands the table's shape: `let name = Route::new().at(..).nest(..)…;`
//! blocks joined with `.nest("/prefix", name)`, each `.at("/path", methods)` on one line or
//! several. A route whose methods it cannot tell makes it panic, naming the route.

use std::collections::HashMap;

const ROUTES_RS: &str = include_str!("../../src/http/mod.rs");
/// Files whose `pub fn name() -> poem::RouteMethod` helpers the table may call.
const HELPERS: &[(&str, &str)] = &[("webhooks", include_str!("../../src/http/webhooks.rs"))];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head"];

/// One method on one path. `path` is the full path with `{param}` segments (`/api/v1/chats/{id}`)
/// and `*name` for catch-alls; `method` is upper case, or `ANY` for an endpoint without a method
/// filter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

impl Route {
    /// `"GET /api/v1/chats/{id}"`, the key the matrix and the OpenAPI check use.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every (method, path) the server answers, in table order.
pub fn all() -> Vec<Route> {
    let body = fn_body(ROUTES_RS, "pub fn routes(").expect("src/http/mod.rs has pub fn routes(");
    // Whole-line comments go (a comment before `let x =` would hide the name).
    let body: String = body
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let body = body.as_str();
    // Statements at the top level of the function body: `let x = Route::new()…;` blocks and
    // the tail expression.
    let mut blocks: Vec<(String, &str)> = Vec::new();
    for stmt in split_top(body, b';') {
        let s = stmt.trim();
        if !s.contains("Route::new()") {
            continue;
        }
        let name = s
            .strip_prefix("let ")
            .and_then(|r| r.split('=').next())
            .map(|n| n.trim().to_string())
            .unwrap_or_default(); // "" = the tail expression, the root
        blocks.push((name, s));
    }
    assert!(
        blocks.iter().any(|(n, _)| n.is_empty()),
        "no root Route::new() in routes()"
    );
    // child block → (parent block, prefix)
    let mut parent: HashMap<String, (String, String)> = HashMap::new();
    for (name, text) in &blocks {
        for args in calls(text, ".nest(") {
            let prefix = first_string(&args).expect("nest has a prefix");
            let child = args.rsplit(',').next().unwrap().trim().to_string();
            parent.insert(child, (name.clone(), prefix));
        }
    }
    let prefix_of = |mut name: String| {
        let mut p = String::new();
        while let Some((up, pre)) = parent.get(&name) {
            p = format!("{pre}{p}");
            name = up.clone();
        }
        p
    };
    let mut out = Vec::new();
    for (name, text) in &blocks {
        let prefix = prefix_of(name.clone());
        for args in calls(text, ".at(") {
            let path = first_string(&args).expect(".at has a path");
            let rest = &args[args.find(',').expect(".at(path, endpoint)") + 1..];
            let full = join(&prefix, &path);
            for m in methods_of(rest, &full) {
                out.push(Route {
                    method: m,
                    path: full.clone(),
                });
            }
        }
    }
    out
}

fn join(prefix: &str, path: &str) -> String {
    let mut s = format!("{prefix}/{path}");
    while s.contains("//") {
        s = s.replace("//", "/");
    }
    if s.len() > 1 {
        s = s.trim_end_matches('/').to_string();
    }
    s.split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(p) => format!("{{{p}}}"),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods of an endpoint expression: `get(a).post(b)`, `post(a)`, a helper returning a
/// `RouteMethod`, or a bare handler (`ANY`).
fn methods_of(expr: &str, path: &str) -> Vec<String> {
    let expr = expr.trim().trim_end_matches(',').trim();
    let found: Vec<String> = method_calls(expr);
    if !found.is_empty() {
        return found;
    }
    // `module::helper()`: read the helper's body.
    if let Some((module, f)) = expr
        .strip_suffix("()")
        .and_then(|call| call.rsplit_once("::"))
    {
        let module = module.rsplit("::").next().unwrap();
        let src = HELPERS
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| {
                panic!(
                    "route {path}: add src/http/{module}.rs to HELPERS in tests/support/routes.rs"
                )
            })
            .1;
        let body = fn_body(src, &format!("pub fn {f}("))
            .unwrap_or_else(|| panic!("route {path}: no pub fn {f} in {module}.rs"));
        let found = method_calls(body);
        assert!(
            !found.is_empty(),
            "route {path}: cannot tell the methods of {expr}"
        );
        return found;
    }
    // A plain handler answers every method.
    assert!(
        expr.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':'),
        "route {path}: cannot tell the methods of `{expr}`; teach tests/support/routes.rs"
    );
    vec!["ANY".to_string()]
}

fn method_calls(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    for m in METHODS {
        let pat = format!("{m}(");
        let mut from = 0;
        while let Some(i) = expr[from..].find(&pat) {
            let at = from + i;
            let before = if at == 0 { b' ' } else { b[at - 1] };
            // `get(`, `.get(`, `poem::get(`, but not `forget(`.
            if !(before.is_ascii_alphanumeric() || before == b'_') {
                let up = m.to_uppercase();
                if !out.contains(&up) {
                    out.push(up);
                }
            }
            from = at + pat.len();
        }
    }
    out
}

/// The text inside the braces of the function whose signature starts with `sig`.
fn fn_body<'a>(src: &'a str, sig: &str) -> Option<&'a str> {
    let start = src.find(sig)?;
    let open = start + src[start..].find('{')?;
    let close = matching(src, open)?;
    Some(&src[open + 1..close])
}

/// The argument text of every `pat…(…)` call in `text` (balanced parentheses).
fn calls(text: &str, pat: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(pat) {
        let open = from + i + pat.len() - 1;
        let close = matching(text, open).expect("balanced parentheses");
        out.push(text[open + 1..close].to_string());
        from = open + 1;
    }
    out
}

fn first_string(s: &str) -> Option<String> {
    let a = s.find('"')?;
    let b = a + 1 + s[a + 1..].find('"')?;
    Some(s[a + 1..b].to_string())
}

/// Index of the bracket closing the one at `open`, skipping string literals.
fn matching(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let (o, c) = match b[open] {
        b'(' => (b'(', b')'),
        b'{' => (b'{', b'}'),
        b'[' => (b'[', b']'),
        _ => return None,
    };
    let mut depth = 0;
    let mut in_str = false;
    let mut i = open;
    while i < b.len() {
        let ch = b[i];
        if in_str {
            if ch == b'\\' {
                i += 1;
            } else if ch == b'"' {
                in_str = false;
            }
        } else if ch == b'"' {
            in_str = true;
        } else if ch == o {
            depth += 1;
        } else if ch == c {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// Split on `sep` where no bracket is open (and outside string literals).
fn split_top(s: &str, sep: u8) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut start, mut i) = (0i32, false, 0, 0);
    while i < b.len() {
        let ch = b[i];
        if in_str {
            if ch == b'\\' {
                i += 1;
            } else if ch == b'"' {
                in_str = false;
            }
        } else {
            match ch {
                b'"' => in_str = true,
                b'(' | b'{' | b'[' => depth += 1,
                b')' | b'}' | b']' => depth -= 1,
                _ if ch == sep && depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

#[test]
fn the_routes_table_reads_as_expected() {
    let keys: Vec<String> = all().iter().map(Route::key).collect();
    for want in [
        "GET /healthz",
        "HEAD /healthz",
        "POST /api/v1/session",
        "DELETE /api/v1/session",
        "POST /api/v1/managers",
        "PATCH /api/v1/managers/{id}",
        "PUT /api/v1/chats/{id}/draft",
        "POST /api/v1/uploads",
        "PUT /api/v1/uploads",
        "ANY /api/v1/*rest",
        "GET /webhooks/whatsapp/{id}",
        "POST /webhooks/whatsapp/{id}",
        "GET /public/blobs/{sha}/{expires}/{sig}/{name}",
        "GET /",
        "GET /*path",
    ] {
        assert!(
            keys.contains(&want.to_string()),
            "{want} missing from {keys:#?}"
        );
    }
    let mut dedup = keys.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), keys.len(), "a route read twice: {keys:#?}");
}
