mod auth;
mod backup;
mod cli;
mod first_admin;
mod http;
mod tls;
