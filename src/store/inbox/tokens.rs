//! API tokens, by hash, and the tree of tokens made with other tokens.

use super::k;
use crate::domain::inbox::*;
use crate::error::{Error, Result};
use crate::store::tables::*;
use crate::store::{Read, Record, W};

impl Record for ApiToken {
    const VERSION: u8 = 2;
    const NAME: &'static str = "api token";
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self> {
        match version {
            // Tokens made before scopes acted with every power of their admin; they keep it
            // (an integration may depend on it), and admins can replace them with narrower ones.
            1 => {
                let v1: ApiTokenV1 = postcard::from_bytes(bytes)
                    .map_err(|e| Error::Corrupt(format!("api token row (v1): {e}")))?;
                Ok(ApiToken {
                    id: v1.id,
                    name: v1.name,
                    created_by: v1.created_by,
                    created_ms: v1.created_ms,
                    scope: TokenScope::Admin,
                    parent: None,
                })
            }
            v => Err(Error::Corrupt(format!(
                "api token row has unknown format version {v}"
            ))),
        }
    }
}

pub fn api_token_by_hash<T: Read>(r: &T, hash: &[u8]) -> Result<Option<ApiToken>> {
    r.get(API_TOKENS, hash)
}

pub fn api_tokens<T: Read>(r: &T) -> Result<Vec<ApiToken>> {
    r.values(API_TOKENS, &[], false, 10_000)
}

pub fn put_api_token(w: &W, hash: &[u8], t: &ApiToken) -> Result<()> {
    w.put(API_TOKENS, hash, t)?;
    w.put_raw(TOKEN_IDS, &k(t.id), hash)
}

/// Delete the token with this id and every token made with it (and with those, and so on);
/// the hashes of all deleted tokens, empty when there was no such token.
pub fn delete_api_token(w: &W, id: u64) -> Result<Vec<Vec<u8>>> {
    let all = api_tokens(w)?;
    let mut doomed = vec![id];
    let mut hashes = Vec::new();
    while let Some(next) = doomed.pop() {
        let Some(hash) = w.get_raw(TOKEN_IDS, &k(next))? else {
            continue;
        };
        w.del(API_TOKENS, &hash)?;
        w.del(TOKEN_IDS, &k(next))?;
        hashes.push(hash);
        doomed.extend(all.iter().filter(|t| t.parent == Some(next)).map(|t| t.id));
    }
    Ok(hashes)
}
