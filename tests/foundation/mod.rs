mod auth;
mod backup;
mod cli;
mod http;
mod tls;
