//! The security proof (issue 7): who may call what (the authorisation matrix and private
//! objects), sign-in limits and session revocation, server-side fetches of client-supplied
//! URLs. The browser half (XSS) is tests/e2e/xss.test.mjs.

mod authz;
mod defaults;
mod matrix;
mod private;
mod sessions;
mod ssrf;
