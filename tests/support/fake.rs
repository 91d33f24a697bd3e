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

#[derive(Clone, Default)]
pub struct Fake {
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    /// Statuses to answer, in order; when empty, 200.
    pub script: Arc<Mutex<VecDeque<u16>>>,
    pub addr: Option<SocketAddr>,
}

impl Fake {
    pub async fn start(script: &[u16]) -> Fake {
        let mut f = Fake::default();
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
                me.requests.lock().unwrap().push(Recorded {
                    method: req.method().to_string(),
                    path: req.uri().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                        .collect(),
                    body,
                });
                let code = me.script.lock().unwrap().pop_front().unwrap_or(200);
                Response::builder()
                    .status(poem::http::StatusCode::from_u16(code).unwrap())
                    .content_type("application/json")
                    .body("{}")
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
