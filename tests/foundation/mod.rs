mod auth;
mod cli;
mod http;
mod tls;
