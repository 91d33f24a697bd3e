mod auth;
mod cli;
mod first_admin;
mod http;
mod tls;
