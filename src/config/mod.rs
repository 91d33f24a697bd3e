//! Configuration: compiled defaults < TOML file < `PARLEY_*` environment < CLI flags.
//!
//! The TOML file is parsed strictly (`deny_unknown_fields`) so a typo such as `lisen` is an
//! error naming the key and the file, never a silently ignored setting. Environment overrides
//! are applied to the parsed TOML tree before deserialising, so they go through the same
//! validation as the file.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod secrets;

#[cfg(test)]
use secrets::is_placeholder;
pub use secrets::{EXAMPLE_CONFIG, MIN_SECRET_LEN, in_cidr, parse_cidr};

/// Every `PARLEY_*` variable that maps to a config key: (variable, section, key).
const ENV_KEYS: &[(&str, &str, &str)] = &[
    ("PARLEY_SERVER_LISTEN", "server", "listen"),
    ("PARLEY_SERVER_HTTP_LISTEN", "server", "http_listen"),
    ("PARLEY_SERVER_PUBLIC_URL", "server", "public_url"),
    ("PARLEY_SERVER_DATA_DIR", "server", "data_dir"),
    ("PARLEY_DATA_DIR", "server", "data_dir"),
    ("PARLEY_SERVER_TRUST_PROXY", "server", "trust_proxy"),
    ("PARLEY_TLS_CERT", "tls", "cert"),
    ("PARLEY_TLS_KEY", "tls", "key"),
    ("PARLEY_LOG_LEVEL", "log", "level"),
];

/// Variables that start with `PARLEY_` but are not configuration (scripts and tests use them).
const ENV_IGNORED: &[&str] = &["PARLEY_BIN", "PARLEY_CONFIG", "PARLEY_LOG"];

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub log: LogConfig,
    pub limits: LimitsConfig,
    pub retention: RetentionConfig,
    pub channels: Vec<ChannelConfig>,
    pub assistants: Vec<AssistantConfig>,
    pub templates: Vec<TemplateConfig>,
    pub delivery: DeliveryConfig,
    pub memory: MemoryConfig,
    pub automation: AutomationConfig,
    pub business_hours: Option<BusinessHoursConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// HTTPS listen address.
    pub listen: String,
    /// Plain-HTTP listen address that only redirects to HTTPS, or "off".
    pub http_listen: String,
    /// The address people and platforms use to reach this server, e.g. `https://inbox.example.com`.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy you run).
    pub trust_proxy: bool,
    /// Addresses or CIDR ranges of the proxies in front (with `trust_proxy`). Empty: only the
    /// proxy that connects to us, which appends the client's address last.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "0.0.0.0:8443".into(),
            http_listen: "0.0.0.0:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            trust_proxy: false,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug` or `trace` (or a tracing filter directive).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest JSON request body, bytes.
    pub max_body_bytes: usize,
    /// Largest uploaded attachment, bytes.
    pub max_upload_bytes: usize,
    /// Failed sign-ins allowed in a burst per account and per address before 429.
    pub login_burst: u32,
    /// Seconds for one failed-attempt allowance to come back.
    pub login_refill_secs: u64,
    /// Session lifetime in hours.
    pub session_hours: u64,
    /// Connections open at once (WebSockets included); more are closed at accept.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64); 0 for no cap.
    /// Not applied with `server.trust_proxy`, where every connection comes from the proxy.
    pub max_connections_per_address: usize,
    /// Bytes of request bodies held in memory at once across the server; a body that does
    /// not fit gets 503 + Retry-After before it is read.
    pub body_buffer_bytes: usize,
    /// Longest time, seconds, to receive one request body that is read into memory.
    pub body_timeout_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 1 << 20,
            max_upload_bytes: 25 << 20,
            login_burst: 5,
            login_refill_secs: 30,
            session_hours: 24 * 14,
            max_connections: 10_000,
            max_connections_per_address: 512,
            body_buffer_bytes: 64 << 20,
            body_timeout_secs: 120,
        }
    }
}

/// What the server keeps in memory for speed. 0 sizes each from the data.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// The store's page cache, MB; 0: an eighth of the store file, 16–96 MB.
    pub store_cache_mb: u64,
    /// Each search index's indexing buffer, MB (there are two); 0: 40.
    pub index_buffer_mb: u64,
}

impl MemoryConfig {
    pub fn store_cache_bytes(&self) -> Option<usize> {
        (self.store_cache_mb > 0).then_some((self.store_cache_mb as usize) << 20)
    }

    pub fn index_buffer_bytes(&self) -> Option<usize> {
        (self.index_buffer_mb > 0).then_some((self.index_buffer_mb as usize) << 20)
    }
}

/// How the outbox retries a reply a platform or callback did not take.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts (the first included) before a message is marked failed.
    pub max_attempts: u32,
    /// Longest wait between two attempts, seconds (the wait doubles from 50 ms up to this).
    pub max_backoff_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 24,
            max_backoff_secs: 300,
        }
    }
}

/// Limits on funnels (B1), so a mis-built funnel can never flood a client.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutomationConfig {
    /// Automated messages one funnel may send one client within an hour; the run stops at
    /// the next one, saying why.
    pub sends_per_client_per_hour: u32,
    /// Broadcast messages per second by channel kind, overriding the built-in pace (kept
    /// under each platform's published limit), e.g. `{ whatsapp = 80 }` on a higher tier.
    pub broadcast_per_second: std::collections::BTreeMap<String, u32>,
    /// Private addresses or ranges (`127.0.0.1`, `10.0.0.0/8`) webhook steps may call, e.g.
    /// the business's CRM on this machine; every other private, loopback or link-local
    /// address is refused like an attachment URL (SSRF).
    pub webhook_allow: Vec<String>,
    /// When set, webhook steps sign their body: `X-Parley-Signature: sha256=<HMAC-SHA256>`.
    pub webhook_secret: Option<String>,
}

impl Default for AutomationConfig {
    fn default() -> Self {
        AutomationConfig {
            sends_per_client_per_hour: 20,
            broadcast_per_second: Default::default(),
            webhook_allow: Vec::new(),
            webhook_secret: None,
        }
    }
}

/// How long never-used things are kept before the background sweep removes them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Seconds a website-widget visitor who never wrote is kept (their token then stops working).
    pub idle_visitor_secs: u64,
    /// Seconds an upload never attached to a message is kept (the file is then deleted unless
    /// a message or another upload holds the same content).
    pub unattached_upload_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            idle_visitor_secs: 24 * 3600,
            unattached_upload_secs: 24 * 3600,
        }
    }
}

#[derive(Clone, Serialize)]
pub struct ChannelConfig {
    pub id: String,
    pub name: String,
    /// Who gets a new conversation of this channel (T1).
    pub assign: AssignMode,
    /// Open conversations a manager may hold before automatic assignment passes them by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign_cap: Option<u32>,
    #[serde(flatten)]
    pub kind: ChannelKindConfig,
}

/// Automatic assignment of a channel's new conversations (T1), among managers online.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignMode {
    #[default]
    Off,
    RoundRobin,
    FewestOpen,
}

impl<'de> Deserialize<'de> for ChannelConfig {
    // serde cannot combine `flatten` with `deny_unknown_fields`, so the common keys are taken
    // out by hand and the rest must match the kind's own keys exactly.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut t = toml::Table::deserialize(d)?;
        let mut take = |k: &str| match t.remove(k) {
            Some(toml::Value::String(s)) => Ok(s),
            Some(_) => Err(D::Error::custom(format!(
                "channel key `{k}` must be a string"
            ))),
            None => Err(D::Error::custom(format!("channel is missing `{k}`"))),
        };
        let id = take("id")?;
        let name = take("name")?;
        let assign = match t.remove("assign") {
            None => AssignMode::Off,
            Some(toml::Value::String(s)) => match s.as_str() {
                "off" => AssignMode::Off,
                "round_robin" => AssignMode::RoundRobin,
                "fewest_open" => AssignMode::FewestOpen,
                _ => {
                    return Err(D::Error::custom(format!(
                        "channel {id:?}: assign = {s:?} must be \"off\", \"round_robin\" or \"fewest_open\""
                    )));
                }
            },
            Some(_) => {
                return Err(D::Error::custom(format!(
                    "channel {id:?}: assign must be a string (\"off\", \"round_robin\" or \"fewest_open\")"
                )));
            }
        };
        let assign_cap = match t.remove("assign_cap") {
            None => None,
            Some(toml::Value::Integer(n)) if (1..=100_000).contains(&n) => Some(n as u32),
            Some(v) => {
                return Err(D::Error::custom(format!(
                    "channel {id:?}: assign_cap = {v} must be a number from 1 to 100000"
                )));
            }
        };
        let kind = ChannelKindConfig::deserialize(toml::Value::Table(t)).map_err(|e| {
            D::Error::custom(format!("channel {id:?}: {}", one_line(&e.to_string())))
        })?;
        Ok(ChannelConfig {
            id,
            name,
            assign,
            assign_cap,
            kind,
        })
    }
}

impl fmt::Debug for ChannelConfig {
    // Secrets never reach logs: Debug shows only what identifies the channel.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind.kind_name())
            .finish()
    }
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChannelKindConfig {
    Telegram {
        token: String,
        #[serde(default)]
        webhook_secret: Option<String>,
        #[serde(default = "default_tg_mode")]
        mode: String,
        #[serde(default = "default_tg_api")]
        api_base: String,
        #[serde(default)]
        file_base: Option<String>,
    },
    Whatsapp {
        access_token: String,
        app_secret: String,
        verify_token: String,
        phone_number_id: String,
        #[serde(default = "default_wa_version")]
        api_version: String,
        #[serde(default = "default_wa_api")]
        api_base: String,
        #[serde(default)]
        template: Option<String>,
        #[serde(default = "default_wa_template_language")]
        template_language: String,
    },
    Viber {
        token: String,
        #[serde(default = "default_viber_api")]
        api_base: String,
    },
    Widget {
        /// Sites (`scheme://host[:port]`) whose pages may use the widget; `"*"` allows any.
        #[serde(default)]
        allowed_origins: Vec<String>,
        /// Panel heading; the channel's name when absent.
        #[serde(default)]
        title: Option<String>,
        /// First line visitors see in an empty chat (not stored as a message).
        #[serde(default)]
        greeting: Option<String>,
    },
    Api {
        token: String,
        #[serde(default)]
        callback_url: Option<String>,
        #[serde(default)]
        secret: Option<String>,
    },
}

fn default_tg_mode() -> String {
    "webhook".into()
}
fn default_tg_api() -> String {
    "https://api.telegram.org".into()
}
fn default_wa_version() -> String {
    "v21.0".into()
}
fn default_wa_template_language() -> String {
    "en_US".into()
}
fn default_wa_api() -> String {
    "https://graph.facebook.com".into()
}
fn default_viber_api() -> String {
    "https://chatapi.viber.com/pa".into()
}

impl ChannelKindConfig {
    pub fn kind_name(&self) -> &'static str {
        match self {
            ChannelKindConfig::Telegram { .. } => "telegram",
            ChannelKindConfig::Whatsapp { .. } => "whatsapp",
            ChannelKindConfig::Viber { .. } => "viber",
            ChannelKindConfig::Widget { .. } => "widget",
            ChannelKindConfig::Api { .. } => "api",
        }
    }
}

/// An AI assistant (B2): an OpenAI-compatible chat-completions endpoint, chosen per chat.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantConfig {
    pub id: String,
    pub name: String,
    /// The API base (`https://api.openai.com/v1`, `http://127.0.0.1:8081/v1`); Parley POSTs
    /// `{url}/chat/completions`. A URL that already ends in `/chat/completions` is used as is.
    pub url: String,
    /// Sent as `Authorization: Bearer …`; none for a local server that needs no key.
    #[serde(default)]
    pub api_key: Option<String>,
    pub model: String,
    /// The system prompt: who the assistant is and how it answers.
    #[serde(default, alias = "system_prompt")]
    pub instructions: Option<String>,
    /// Markdown or text files; split into passages, the best ones for the client's message
    /// go into the prompt.
    #[serde(default)]
    pub knowledge: Vec<PathBuf>,
    /// Passages put into one request.
    #[serde(default = "default_passages")]
    pub passages: usize,
    /// Answers one chat may get within an hour; more and the assistant stops for that hour.
    #[serde(default = "default_replies_per_hour")]
    pub max_replies_per_hour: u32,
    /// Seconds one request may take.
    #[serde(default = "default_ai_timeout")]
    pub timeout: u64,
    /// Messages of the chat's history sent with a request (the newest ones).
    #[serde(default = "default_max_history")]
    pub max_history: usize,
    /// Milliseconds without a new client message before the assistant answers, so quick
    /// messages in a row get one answer.
    #[serde(default = "default_quiet_ms")]
    pub quiet_ms: u64,
    /// Seconds the assistant stays quiet in a chat after a manager replied there by hand.
    #[serde(default = "default_manager_pause")]
    pub manager_pause: u64,
    /// Words or phrases that mean "a person, please" (case-insensitive, whole words).
    #[serde(default = "default_handover_words")]
    pub handover_words: Vec<String>,
    /// What the client is told when the assistant hands over.
    #[serde(default = "default_handover_reply")]
    pub handover_reply: String,
    /// Offer the model the `hand_over_to_human` tool. Servers that refuse `tools`
    /// (llama.cpp without `--jinja`) work with `false`: the `[[HANDOVER]]` marker still works.
    #[serde(default = "default_true")]
    pub tools: bool,
    /// `max_tokens` for an answer; none leaves it to the server.
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

fn default_true() -> bool {
    true
}
fn default_passages() -> usize {
    3
}
fn default_replies_per_hour() -> u32 {
    30
}
fn default_ai_timeout() -> u64 {
    30
}
fn default_max_history() -> usize {
    20
}
fn default_quiet_ms() -> u64 {
    2000
}
fn default_manager_pause() -> u64 {
    1800
}
fn default_handover_words() -> Vec<String> {
    [
        "operator",
        "human",
        "real person",
        "a person",
        "manager",
        "оператор",
        "человек",
        "менеджер",
        "живой",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_handover_reply() -> String {
    "I am passing you to a colleague; they will answer here shortly.".into()
}

impl fmt::Debug for AssistantConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the api_key: Debug output ends up in logs.
        f.debug_struct("AssistantConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("knowledge", &self.knowledge)
            .finish_non_exhaustive()
    }
}

impl AssistantConfig {
    /// Where requests go: `{url}/chat/completions`.
    pub fn endpoint(&self) -> String {
        let base = self.url.trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            base.to_string()
        } else {
            format!("{base}/chat/completions")
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    pub name: String,
    pub text: String,
}

/// Opening hours (B4), in the business's time zone. Each day lists ranges like "09:00-18:00"
/// ("22:00-02:00" runs overnight); a day without ranges is closed. Checked when the server
/// starts (`inbox::automation::Business::from_config`), naming the key.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHoursConfig {
    /// An IANA zone name, e.g. "Europe/Moscow".
    pub time_zone: String,
    pub monday: Vec<String>,
    pub tuesday: Vec<String>,
    pub wednesday: Vec<String>,
    pub thursday: Vec<String>,
    pub friday: Vec<String>,
    pub saturday: Vec<String>,
    pub sunday: Vec<String>,
    /// Closed all day, "2026-12-31".
    pub holidays: Vec<String>,
    /// Sent once per closed period to a client who writes outside the hours (none if unset).
    pub away_message: Option<String>,
}

/// Values given on the command line; `None` keeps what the lower layers said.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub http_listen: Option<String>,
}

impl Config {
    /// Load from an optional file, the process environment and CLI overrides.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env, overrides)
    }

    pub fn load_from(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config> {
        let text = match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!("cannot read config file {}: {e}", path.display()))
            })?),
            None => None,
        };
        let origin = file.map_or_else(|| "defaults".to_string(), |p| p.display().to_string());
        Self::from_text(text.as_deref(), &origin, env, overrides)
    }

    /// The config from a file's text (None: no file), named `origin` in errors, with the
    /// environment and overrides applied on top, validated.
    pub fn from_text(
        text: Option<&str>,
        origin: &str,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config> {
        let mut tree = match text {
            Some(text) => toml::from_str::<toml::Table>(text)
                .map_err(|e| Error::Config(format!("{origin}: {e}")))?,
            None => toml::Table::new(),
        };
        apply_env(&mut tree, env)?;
        let mut config: Config = Config::deserialize(toml::Value::Table(tree))
            .map_err(|e| Error::Config(format!("{origin}: {}", one_line(&e.to_string()))))?;
        if let Some(d) = &overrides.data_dir {
            config.server.data_dir = d.clone();
        }
        if let Some(l) = &overrides.listen {
            config.server.listen = l.clone();
        }
        if let Some(l) = &overrides.http_listen {
            config.server.http_listen = l.clone();
        }
        config.validate().map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{origin}: {m}")),
            other => other,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        self.check_secrets()?;
        for (kind, n) in &self.automation.broadcast_per_second {
            if !["telegram", "whatsapp", "viber", "widget", "api"].contains(&kind.as_str()) {
                return Err(Error::Config(format!(
                    "automation.broadcast_per_second.{kind}: not a channel kind (telegram, whatsapp, viber, widget, api)"
                )));
            }
            if !(1..=1000).contains(n) {
                return Err(Error::Config(format!(
                    "automation.broadcast_per_second.{kind}: {n} must be 1 to 1000"
                )));
            }
        }
        for (i, p) in self.automation.webhook_allow.iter().enumerate() {
            if parse_cidr(p).is_none() {
                return Err(Error::Config(format!(
                    "automation.webhook_allow[{i}]: {p:?} must be an IP address or a CIDR range such as \"127.0.0.1\" or \"10.0.0.0/8\""
                )));
            }
        }
        if let Some(s) = &self.automation.webhook_secret
            && let Some(why) = secrets::weak_secret(s)
        {
            return Err(Error::Config(format!("automation.webhook_secret: {why}")));
        }
        parse_addr("server.listen", &self.server.listen)?;
        if !self.http_listen_off() {
            parse_addr("server.http_listen", &self.server.http_listen)?;
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(Error::Config(format!(
                "server.public_url: {url:?} must start with https://"
            )));
        }
        for (i, p) in self.server.trusted_proxies.iter().enumerate() {
            if parse_cidr(p).is_none() {
                return Err(Error::Config(format!(
                    "server.trusted_proxies[{i}]: {p:?} must be an IP address or a CIDR range such as \"10.0.0.0/8\" or \"2001:db8::/32\""
                )));
            }
        }
        for (key, v) in [
            (
                "retention.idle_visitor_secs",
                self.retention.idle_visitor_secs,
            ),
            (
                "retention.unattached_upload_secs",
                self.retention.unattached_upload_secs,
            ),
        ] {
            // 0 would sweep a visitor or an upload between its creation and its first use.
            if v == 0 {
                return Err(Error::Config(format!(
                    "{key}: must be at least 1 (seconds)"
                )));
            }
        }
        if self.memory.store_cache_mb > 65_536 {
            return Err(Error::Config(format!(
                "memory.store_cache_mb: {} is more than 65536 (64 GB); 0 sizes it from the data",
                self.memory.store_cache_mb
            )));
        }
        if self.memory.index_buffer_mb != 0 && !(15..=4096).contains(&self.memory.index_buffer_mb) {
            return Err(Error::Config(format!(
                "memory.index_buffer_mb: {} must be between 15 and 4096 (or 0 for the default)",
                self.memory.index_buffer_mb
            )));
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(Error::Config(
                "tls: set both cert and key, or neither (for a self-signed certificate)".into(),
            ));
        }
        if !(1..=1000).contains(&self.delivery.max_attempts) {
            return Err(Error::Config(format!(
                "delivery.max_attempts: {} must be between 1 and 1000",
                self.delivery.max_attempts
            )));
        }
        if !(1..=86_400).contains(&self.delivery.max_backoff_secs) {
            return Err(Error::Config(format!(
                "delivery.max_backoff_secs: {} must be between 1 and 86400",
                self.delivery.max_backoff_secs
            )));
        }
        self.check_assistants()?;
        let mut seen = std::collections::HashSet::new();
        for (i, ch) in self.channels.iter().enumerate() {
            if ch.id.is_empty()
                || !ch
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Error::Config(format!(
                    "channels[{i}].id: {:?} must be non-empty letters, digits, '-' or '_'",
                    ch.id
                )));
            }
            if !seen.insert(ch.id.clone()) {
                return Err(Error::Config(format!(
                    "channels[{i}].id: {:?} is used twice",
                    ch.id
                )));
            }
            match &ch.kind {
                ChannelKindConfig::Telegram { mode, .. }
                    if mode != "webhook" && mode != "polling" =>
                {
                    return Err(Error::Config(format!(
                        "channels[{i}].mode: {mode:?} must be \"webhook\" or \"polling\""
                    )));
                }
                ChannelKindConfig::Telegram {
                    mode,
                    webhook_secret,
                    ..
                } if mode == "webhook" => {
                    let ok = webhook_secret.as_deref().is_some_and(|s| {
                        (1..=256).contains(&s.len())
                            && s.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    });
                    if !ok {
                        return Err(Error::Config(format!(
                            "channels[{i}].webhook_secret: webhook mode needs 16 to 256 characters of A-Z, a-z, 0-9, '_' or '-' (Telegram echoes it to prove a request is genuine)"
                        )));
                    }
                }
                ChannelKindConfig::Whatsapp {
                    template_language, ..
                } if template_language.is_empty()
                    || !template_language
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    return Err(Error::Config(format!(
                        "channels[{i}].template_language: {template_language:?} must be a WhatsApp language code such as \"en_US\" or \"ru\""
                    )));
                }
                ChannelKindConfig::Widget {
                    allowed_origins, ..
                } => {
                    for o in allowed_origins {
                        if o != "*" && normal_origin(o).is_none() {
                            return Err(Error::Config(format!(
                                "channels[{i}].allowed_origins: {o:?} must be an origin like \"https://www.example.com\" (scheme, host, optional port; no path) or \"*\""
                            )));
                        }
                    }
                }
                ChannelKindConfig::Api {
                    callback_url: Some(url),
                    ..
                } if !(url.starts_with("https://") || url.starts_with("http://")) => {
                    return Err(Error::Config(format!(
                        "channels[{i}].callback_url: {url:?} must be an http(s) URL"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `[[assistants]]`: ids usable in the API, endpoints that are URLs, limits in range,
    /// knowledge files that can be read. Errors name the entry and the key.
    fn check_assistants(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (i, a) in self.assistants.iter().enumerate() {
            let bad = |key: &str, why: String| {
                Err(Error::Config(format!(
                    "assistants[{i}].{key} (assistant {:?}): {why}",
                    a.id
                )))
            };
            if a.id.is_empty()
                || !a
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad("id", "must be non-empty letters, digits, '-' or '_'".into());
            }
            if !seen.insert(a.id.clone()) {
                return bad("id", "is used twice".into());
            }
            if a.name.trim().is_empty() {
                return bad("name", "is empty".into());
            }
            if !(a.url.starts_with("https://") || a.url.starts_with("http://"))
                || reqwest::Url::parse(&a.url).is_err()
            {
                return bad(
                    "url",
                    format!(
                        "{:?} must be an http(s) URL such as \"https://api.openai.com/v1\" or \"http://127.0.0.1:8081/v1\"",
                        a.url
                    ),
                );
            }
            if a.model.trim().is_empty() {
                return bad(
                    "model",
                    "is empty; name the model the server should use".into(),
                );
            }
            if !(1..=600).contains(&a.timeout) {
                return bad(
                    "timeout",
                    format!("{} must be 1 to 600 (seconds)", a.timeout),
                );
            }
            if !(1..=200).contains(&a.max_history) {
                return bad("max_history", format!("{} must be 1 to 200", a.max_history));
            }
            if a.passages > 20 {
                return bad("passages", format!("{} must be 0 to 20", a.passages));
            }
            if !(1..=10_000).contains(&a.max_replies_per_hour) {
                return bad(
                    "max_replies_per_hour",
                    format!("{} must be 1 to 10000", a.max_replies_per_hour),
                );
            }
            if a.quiet_ms > 60_000 {
                return bad("quiet_ms", format!("{} must be 0 to 60000", a.quiet_ms));
            }
            if a.manager_pause > 7 * 86_400 {
                return bad(
                    "manager_pause",
                    format!("{} must be 0 to 604800 (seconds)", a.manager_pause),
                );
            }
            if a.handover_reply.trim().is_empty() {
                return bad("handover_reply", "is empty".into());
            }
            for (k, path) in a.knowledge.iter().enumerate() {
                if let Err(e) = std::fs::metadata(path).and_then(|m| {
                    if m.is_file() {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("not a file"))
                    }
                }) {
                    return bad(
                        &format!("knowledge[{k}]"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                }
            }
        }
        Ok(())
    }

    pub fn http_listen_off(&self) -> bool {
        self.server.http_listen.eq_ignore_ascii_case("off") || self.server.http_listen.is_empty()
    }

    pub fn listen_addr(&self) -> Result<SocketAddr> {
        parse_addr("server.listen", &self.server.listen)
    }

    pub fn http_listen_addr(&self) -> Result<Option<SocketAddr>> {
        if self.http_listen_off() {
            return Ok(None);
        }
        parse_addr("server.http_listen", &self.server.http_listen).map(Some)
    }

    /// The effective configuration as TOML with every secret replaced, for `check-config`.
    pub fn redacted_toml(&self) -> String {
        let mut c = self.clone();
        let hide = |s: &mut String| {
            if !s.is_empty() {
                *s = "<redacted>".into();
            }
        };
        for ch in &mut c.channels {
            match &mut ch.kind {
                ChannelKindConfig::Telegram {
                    token,
                    webhook_secret,
                    ..
                } => {
                    hide(token);
                    if let Some(s) = webhook_secret {
                        hide(s);
                    }
                }
                ChannelKindConfig::Whatsapp {
                    access_token,
                    app_secret,
                    verify_token,
                    ..
                } => {
                    hide(access_token);
                    hide(app_secret);
                    hide(verify_token);
                }
                ChannelKindConfig::Viber { token, .. } => hide(token),
                ChannelKindConfig::Widget { .. } => {}
                ChannelKindConfig::Api { token, secret, .. } => {
                    hide(token);
                    if let Some(s) = secret {
                        hide(s);
                    }
                }
            }
        }
        for a in &mut c.assistants {
            if let Some(k) = &mut a.api_key {
                hide(k);
            }
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// An origin as browsers send it (`https://host[:port]`, lowercase, no trailing slash), or
/// None when `raw` is not one.
pub fn normal_origin(raw: &str) -> Option<String> {
    let o = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = o.split_once("://")?;
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        // The address itself was checked just now; only the port is left to check.
        ("ipv6", port)
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    (matches!(scheme, "http" | "https") && host_ok && port_ok).then_some(o)
}

fn parse_addr(key: &str, v: &str) -> Result<SocketAddr> {
    v.parse().map_err(|_| {
        Error::Config(format!(
            "{key}: {v:?} is not an address like 0.0.0.0:8443 or 127.0.0.1:8080"
        ))
    })
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn apply_env(tree: &mut toml::Table, env: &[(String, String)]) -> Result<()> {
    for (name, value) in env {
        if !name.starts_with("PARLEY_") || ENV_IGNORED.contains(&name.as_str()) {
            continue;
        }
        let Some((_, section, key)) = ENV_KEYS.iter().find(|(n, _, _)| n == name) else {
            tracing::warn!("ignoring unknown environment variable {name}");
            continue;
        };
        let v = if *key == "trust_proxy" {
            match value.as_str() {
                "1" | "true" | "yes" => toml::Value::Boolean(true),
                "0" | "false" | "no" | "" => toml::Value::Boolean(false),
                other => {
                    return Err(Error::Config(format!(
                        "{name}: {other:?} is not true or false"
                    )));
                }
            }
        } else {
            toml::Value::String(value.clone())
        };
        let sect = tree
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match sect {
            toml::Value::Table(t) => {
                t.insert(key.to_string(), v);
            }
            _ => return Err(Error::Config(format!("[{section}] must be a table"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)], ov: Overrides) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Config::load_from(Some(&p), &env, &ov)
    }

    #[test]
    fn layers_apply_in_order() {
        let c = load(
            "[server]\nlisten = \"127.0.0.1:1000\"\nhttp_listen = \"127.0.0.1:1001\"\n",
            &[("PARLEY_SERVER_LISTEN", "127.0.0.1:2000")],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:2000");
        assert_eq!(c.server.http_listen, "127.0.0.1:1001");
        let c = load(
            "[server]\nlisten = \"127.0.0.1:1000\"\n",
            &[("PARLEY_SERVER_LISTEN", "127.0.0.1:2000")],
            Overrides {
                listen: Some("127.0.0.1:3000".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:3000");
        assert_eq!(c.server.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let e = load("[server]\nlisen = \"x\"\n", &[], Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("lisen") && e.contains("c.toml"), "{e}");
        let e = load(
            "[[channels]]\nid=\"a\"\nname=\"A\"\nkind=\"api\"\ntoken=\"0123456789abcdef\"\ntokn=\"x\"\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("tokn"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = load(
            "[server]\nlisten = \"nowhere\"\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("server.listen"), "{e}");
        let e = load(
            "[[channels]]\nid=\"a\"\nname=\"A\"\nkind=\"carrier-pigeon\"\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("carrier-pigeon"), "{e}");
        for (text, key) in [
            ("[memory]\nindex_buffer_mb = 5\n", "memory.index_buffer_mb"),
            (
                "[memory]\nstore_cache_mb = 100000\n",
                "memory.store_cache_mb",
            ),
            ("[memory]\ncache = 1\n", "cache"),
        ] {
            let e = load(text, &[], Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        let c = load("[memory]\nstore_cache_mb = 64\n", &[], Overrides::default()).unwrap();
        assert_eq!(c.memory.store_cache_bytes(), Some(64 << 20));
        assert_eq!(c.memory.index_buffer_bytes(), None, "0 is the default");
    }

    /// The example with its commented settings switched on, as an admin would.
    fn example_uncommented() -> String {
        EXAMPLE_CONFIG
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn broadcast_rates_name_the_bad_key() {
        for (text, key) in [
            (
                "[automation]\nbroadcast_per_second = { fax = 5 }\n",
                "broadcast_per_second.fax",
            ),
            (
                "[automation]\nbroadcast_per_second = { api = 0 }\n",
                "broadcast_per_second.api",
            ),
            (
                "[automation]\nwebhook_allow = [\"localhost\"]\n",
                "automation.webhook_allow[0]",
            ),
            (
                "[automation]\nwebhook_secret = \"short\"\n",
                "automation.webhook_secret",
            ),
        ] {
            let e = load(text, &[], Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{e}");
        }
        let c = load(
            "[automation]\nbroadcast_per_second = { whatsapp = 80 }\n",
            &[],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.automation.broadcast_per_second.get("whatsapp"), Some(&80));
    }

    #[test]
    fn assignment_keys_are_checked() {
        let ch = |extra: &str| {
            format!(
                "[[channels]]\nid = \"crm\"\nkind = \"api\"\nname = \"CRM\"\ntoken = \"tok-0123456789abcdefgh\"\n{extra}"
            )
        };
        for (extra, want) in [
            ("assign = \"random\"\n", "assign = \"random\""),
            ("assign = 1\n", "assign must be a string"),
            ("assign_cap = 0\n", "assign_cap = 0"),
        ] {
            let e = load(&ch(extra), &[], Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && e.contains("crm"), "{e}");
        }
        let c = load(
            &ch("assign = \"fewest_open\"\nassign_cap = 5\n"),
            &[],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.channels[0].assign, AssignMode::FewestOpen);
        assert_eq!(c.channels[0].assign_cap, Some(5));
    }

    #[test]
    fn example_config_enables_no_channel() {
        let c = load(EXAMPLE_CONFIG, &[], Overrides::default()).unwrap();
        assert!(
            c.channels.is_empty(),
            "a fresh config must accept nothing from outside"
        );
        assert!(c.assistants.is_empty());
    }

    #[test]
    fn example_placeholders_are_refused() {
        let text = example_uncommented();
        let e = load(&text, &[], Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("channels[0].token") && e.contains("placeholder"),
            "{e}"
        );
        // Each placeholder on its own is refused too, not only the first one met.
        for (key, placeholder) in [
            ("webhook_secret", "REPLACE-WITH-A-LONG-RANDOM-STRING"),
            ("app_secret", "REPLACE-ME"),
            ("token", "REPLACE-WITH-A-LONG-RANDOM-TOKEN"),
            ("secret", "REPLACE-WITH-A-LONG-RANDOM-SECRET"),
        ] {
            assert!(
                text.contains(&format!("{key} = \"{placeholder}\"")),
                "{key}"
            );
            assert!(is_placeholder(placeholder));
        }
        assert!(!is_placeholder("9f86d081884c7d659a2feaa0c55ad015"));
    }

    #[test]
    fn example_config_is_complete_and_parses() {
        // With every placeholder replaced by a real secret, the uncommented example is valid.
        let mut text = example_uncommented();
        for (i, p) in [
            "123456:REPLACE-ME",
            "REPLACE-WITH-A-LONG-RANDOM-STRING",
            "REPLACE-WITH-A-LONG-RANDOM-TOKEN",
            "REPLACE-WITH-A-LONG-RANDOM-SECRET",
            "REPLACE-ME",
        ]
        .iter()
        .enumerate()
        {
            text = text.replace(
                &format!("\"{p}\""),
                &format!("\"secret{i}-0123456789abcdef\""),
            );
        }
        let c = load(&text, &[], Overrides::default()).unwrap();
        // Every section and every channel kind is documented in the example.
        for kind in ["telegram", "whatsapp", "viber", "widget", "api"] {
            assert!(
                c.channels.iter().any(|ch| ch.kind.kind_name() == kind),
                "config.example.toml has no {kind} channel"
            );
        }
        assert!(!c.templates.is_empty() && !c.assistants.is_empty());
        assert!(
            c.business_hours.is_some(),
            "config.example.toml documents [business_hours]"
        );
        let text = EXAMPLE_CONFIG;
        // Every key the structs know appears in the example (commented or not).
        let rendered = toml::to_string(&Config::default()).unwrap();
        let optional = ["public_url", "cert", "key"];
        let keys = rendered
            .lines()
            .filter(|l| l.contains(" = ") && !l.ends_with("[]"))
            .map(|l| l.split(" = ").next().unwrap().trim())
            .chain(optional);
        for key in keys {
            assert!(
                text.contains(&format!("{key} =")) || text.contains(&format!("# {key} =")),
                "config.example.toml does not document {key}"
            );
        }
    }

    #[test]
    fn whatsapp_keys_are_checked() {
        let wa = |extra: &str| {
            format!(
                "[[channels]]\nid=\"w\"\nname=\"W\"\nkind=\"whatsapp\"\naccess_token=\"tok-1234567890abcdef\"\nphone_number_id=\"1\"\n{extra}"
            )
        };
        let c = load(
            &wa("app_secret=\"s3cret-0123456789ab\"\nverify_token=\"vt-0123456789abcdef\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap();
        match &c.channels[0].kind {
            ChannelKindConfig::Whatsapp {
                template_language,
                api_base,
                ..
            } => {
                assert_eq!(template_language, "en_US");
                assert_eq!(api_base, "https://graph.facebook.com");
            }
            _ => unreachable!(),
        }
        let out = c.redacted_toml();
        assert!(
            !out.contains("tok-1234567890abcdef") && !out.contains("s3cret-0123456789ab"),
            "{out}"
        );
        let e = load(
            &wa("app_secret=\"\"\nverify_token=\"vt-0123456789abcdef\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("app_secret"), "{e}");
        let e = load(
            &wa("app_secret=\"s3cret-0123456789ab\"\nverify_token=\"vt-0123456789abcdef\"\ntemplate_language=\"en US\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("template_language"), "{e}");
    }

    #[test]
    fn widget_origins_are_checked() {
        assert_eq!(
            normal_origin("https://Shop.Example.com/").as_deref(),
            Some("https://shop.example.com")
        );
        assert!(normal_origin("http://127.0.0.1:8080").is_some());
        assert!(normal_origin("https://[::1]:8443").is_some());
        for bad in [
            "shop.example.com",
            "https://x.example/path",
            "ftp://x",
            "https://x:port",
        ] {
            assert!(normal_origin(bad).is_none(), "{bad}");
        }
        let e = load(
            "[[channels]]\nid=\"w\"\nname=\"W\"\nkind=\"widget\"\nallowed_origins=[\"https://ok.example\", \"https://bad.example/chat\"]\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("allowed_origins") && e.contains("bad.example"),
            "{e}"
        );
    }

    #[test]
    fn weak_channel_secrets_are_refused_naming_the_key() {
        let cases = [
            // Viber signs with the token: an empty one would accept an HMAC anyone can make.
            ("kind=\"viber\"\ntoken=\"\"\n", "channels[0].token", "empty"),
            (
                "kind=\"viber\"\ntoken=\"short-token\"\n",
                "channels[0].token",
                "11 characters",
            ),
            (
                "kind=\"telegram\"\ntoken=\"123456:abcdefghijklmnop\"\nwebhook_secret=\"REPLACE-WITH-A-LONG-RANDOM-STRING\"\n",
                "channels[0].webhook_secret",
                "placeholder",
            ),
            (
                "kind=\"telegram\"\ntoken=\"123456:abcdefghijklmnop\"\n",
                "channels[0].webhook_secret",
                "empty",
            ),
            (
                "kind=\"api\"\ntoken=\"0123456789abcdef\"\ncallback_url=\"https://x.example/cb\"\n",
                "channels[0].secret",
                "empty",
            ),
            (
                "kind=\"api\"\ntoken=\"0123456789abcdef\"\ncallback_url=\"https://x.example/cb\"\nsecret=\"x\"\n",
                "channels[0].secret",
                "1 characters",
            ),
            (
                "kind=\"whatsapp\"\naccess_token=\"tok-1234567890abcdef\"\napp_secret=\"s3cret-0123456789ab\"\nverify_token=\"REPLACE-ME\"\nphone_number_id=\"1\"\n",
                "channels[0].verify_token",
                "placeholder",
            ),
        ];
        for (body, key, why) in cases {
            let text = format!("[[channels]]\nid=\"c\"\nname=\"C\"\n{body}");
            let e = load(&text, &[], Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(why), "{body}: {e}");
        }
        // A polling bot has no webhook route, so it needs no webhook secret.
        load(
            "[[channels]]\nid=\"c\"\nname=\"C\"\nkind=\"telegram\"\ntoken=\"123456:abcdefghijklmnop\"\nmode=\"polling\"\n",
            &[],
            Overrides::default(),
        )
        .unwrap();
        let e = load(
            "[[assistants]]\nid=\"h\"\nname=\"H\"\nurl=\"https://x.example/v1\"\nmodel=\"m\"\napi_key=\"REPLACE-ME\"\n",
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("assistants[0].api_key"), "{e}");
    }

    #[test]
    fn assistant_keys_are_checked_naming_the_entry_and_key() {
        let base = "[[assistants]]\nid=\"h\"\nname=\"H\"\nmodel=\"m\"\n";
        for (body, key) in [
            ("url=\"ftp://x\"\n", "assistants[0].url"),
            (
                "url=\"http://127.0.0.1:8081/v1\"\ntimeout=0\n",
                "assistants[0].timeout",
            ),
            (
                "url=\"http://127.0.0.1:8081/v1\"\nmax_history=0\n",
                "assistants[0].max_history",
            ),
            (
                "url=\"http://127.0.0.1:8081/v1\"\nquiet_ms=99999\n",
                "assistants[0].quiet_ms",
            ),
            (
                "url=\"http://127.0.0.1:8081/v1\"\nknowledge=[\"/nonexistent/kb.md\"]\n",
                "assistants[0].knowledge[0]",
            ),
            ("url=\"http://127.0.0.1:8081/v1\"\nmodle=\"x\"\n", "modle"),
        ] {
            let e = load(&format!("{base}{body}"), &[], Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{body}: {e}");
        }
        let e = load(
            &format!("{base}url=\"http://a/v1\"\n{base}url=\"http://b/v1\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("assistants[1].id") && e.contains("twice"), "{e}");
        // A local server without a key, the old system_prompt name, the API base form.
        let c = load(
            &format!("{base}url=\"http://127.0.0.1:8081/v1/\"\nsystem_prompt=\"Be brief.\"\n"),
            &[],
            Overrides::default(),
        )
        .unwrap();
        let a = &c.assistants[0];
        assert_eq!(a.instructions.as_deref(), Some("Be brief."));
        assert_eq!(a.endpoint(), "http://127.0.0.1:8081/v1/chat/completions");
        assert_eq!((a.timeout, a.max_history, a.quiet_ms), (30, 20, 2000));
    }

    #[test]
    fn secrets_are_redacted() {
        let c = load(
            "[[channels]]\nid=\"a\"\nname=\"A\"\nkind=\"api\"\ntoken=\"supersecrettoken1\"\ncallback_url=\"https://x.example/cb\"\nsecret=\"hmacsecret-0123456789\"\n",
            &[],
            Overrides::default(),
        )
        .unwrap();
        let out = c.redacted_toml();
        assert!(!out.contains("supersecrettoken1") && !out.contains("hmacsecret"));
        assert!(!format!("{c:?}").contains("supersecrettoken1"));
    }
}
