//! A recording HTTP peer (callback endpoints, platform fakes): answers from a script and keeps
//! every request for assertions.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Request, Response, Server};

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One answer of the fake.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Answer after this long (a long poll with nothing to report).
    pub delay_ms: u64,
    /// Answer only once a permit is added here (the test decides when the answer arrives).
    pub hold: Option<Arc<tokio::sync::Semaphore>>,
    /// Extra response headers (e.g. Retry-After).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json".into(),
            body: v.to_string().into_bytes(),
            delay_ms: 0,
            hold: None,
            headers: Vec::new(),
        }
    }
    pub fn bytes(content_type: &str, body: &[u8]) -> Reply {
        Reply {
            status: 200,
            content_type: content_type.into(),
            body: body.to_vec(),
            delay_ms: 0,
            hold: None,
            headers: Vec::new(),
        }
    }
}

/// Answers a request when no scripted reply is queued (a platform fake's normal behaviour).
pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A reply for the next request whose path contains the fragment (any when None).
pub type Injected = (Option<String>, Reply);

#[derive(Clone, Default)]
pub struct Fake {
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// Statuses to answer, in order (body `{}`); when empty, the handler answers.
    pub script: Arc<Mutex<VecDeque<u16>>>,
    /// Whole replies to give first, in order (e.g. an injected 429 with its JSON body);
    /// each may be limited to requests whose path contains a fragment.
    pub replies: Arc<Mutex<VecDeque<Injected>>>,
    pub handler: Option<Handler>,
    pub addr: Option<SocketAddr>,
}

impl Fake {
    pub async fn start(script: &[u16]) -> Fake {
        Fake::serve(script, None).await
    }

    /// A fake that answers with `handler` (after any scripted statuses).
    pub async fn with_handler(handler: Handler) -> Fake {
        Fake::serve(&[], Some(handler)).await
    }

    /// Queue a reply for the next request whose path contains `path_part` (any when None).
    pub fn inject(&self, path_part: Option<&str>, reply: Reply) {
        self.replies
            .lock()
            .unwrap()
            .push_back((path_part.map(String::from), reply));
    }

    async fn serve(script: &[u16], handler: Option<Handler>) -> Fake {
        let mut f = Fake {
            handler,
            ..Fake::default()
        };
        f.script.lock().unwrap().extend(script.iter().copied());
        let acc = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        f.addr = acc.local_addr()[0].as_socket_addr().copied();
        let me = f.clone();
        let ep = poem::endpoint::make(move |mut req: Request| {
            let me = me.clone();
            async move {
                let body = req.take_body().into_vec().await.unwrap_or_default();
                let rec = Recorded {
                    method: req.method().to_string(),
                    path: req.uri().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body,
                };
                me.requests.lock().unwrap().push(rec.clone());
                let injected = {
                    let mut q = me.replies.lock().unwrap();
                    let pos = q
                        .iter()
                        .position(|(part, _)| part.as_deref().is_none_or(|p| rec.path.contains(p)));
                    pos.and_then(|i| q.remove(i)).map(|(_, r)| r)
                };
                let scripted = if injected.is_none() {
                    me.script.lock().unwrap().pop_front()
                } else {
                    None
                };
                let reply = match (injected, scripted, &me.handler) {
                    (Some(r), _, _) => r,
                    (None, Some(code), _) => Reply::json(code, serde_json::json!({})),
                    (None, None, Some(h)) => h(&rec),
                    (None, None, None) => Reply::json(200, serde_json::json!({})),
                };
                if let Some(gate) = &reply.hold {
                    let _ = gate.acquire().await;
                }
                if reply.delay_ms > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(reply.delay_ms)).await;
                }
                let mut rb = Response::builder()
                    .status(poem::http::StatusCode::from_u16(reply.status).unwrap())
                    .content_type(reply.content_type);
                for (k, v) in &reply.headers {
                    rb = rb.header(k.as_str(), v.as_str());
                }
                rb.body(reply.body)
            }
        });
        tokio::spawn(Server::new_with_acceptor(acc).run(ep.map_to_response()));
        f
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr.unwrap())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Wait until `pred` holds for the recorded requests (at most `secs`).
    pub async fn wait_for(&self, secs: u64, pred: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let r = self.requests();
            if pred(&r) || std::time::Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
