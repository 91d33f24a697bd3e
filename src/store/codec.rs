//! Keys and values as bytes. Keys are big-endian so redb's byte order is numeric order and a
//! prefix range is a scan of one aggregate. Values carry a leading format-version byte
//! followed by postcard, so an old row is recognised instead of misread.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// A value stored in redb. Bump `VERSION` when the struct changes and teach `upgrade` the old
/// layout (postcard is not self-describing, so an old row cannot be read with a new struct).
pub trait Record: Serialize + DeserializeOwned {
    const VERSION: u8 = 1;
    const NAME: &'static str;
    fn upgrade(version: u8, _bytes: &[u8]) -> Result<Self> {
        Err(Error::Corrupt(format!(
            "{} row has unknown format version {version}",
            Self::NAME
        )))
    }
}

pub fn encode<V: Record>(v: &V) -> Result<Vec<u8>> {
    let mut out = vec![V::VERSION];
    postcard::to_io(v, &mut out)
        .map_err(|e| Error::Internal(format!("encode {}: {e}", V::NAME)))?;
    Ok(out)
}

pub fn decode<V: Record>(bytes: &[u8]) -> Result<V> {
    match bytes.split_first() {
        Some((&v, rest)) if v == V::VERSION => {
            postcard::from_bytes(rest).map_err(|e| Error::Corrupt(format!("{} row: {e}", V::NAME)))
        }
        Some((&v, rest)) => V::upgrade(v, rest),
        None => Err(Error::Corrupt(format!("{} row is empty", V::NAME))),
    }
}

/// Builds an ordered key from parts.
#[derive(Default)]
pub struct Key(Vec<u8>);

impl Key {
    pub fn new() -> Key {
        Key(Vec::with_capacity(24))
    }
    pub fn u64(mut self, v: u64) -> Key {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(self, v: i64) -> Key {
        // Flip the sign bit so negative numbers sort before positive ones.
        self.u64((v as u64) ^ (1 << 63))
    }
    /// A string followed by a 0 byte, so `("ab", x)` sorts before `("abc", y)` and a prefix
    /// scan on "ab" does not match "abc". Strings must not contain NUL.
    pub fn str(mut self, s: &str) -> Key {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Key {
        self.0.extend_from_slice(b);
        self
    }
    pub fn build(self) -> Vec<u8> {
        self.0
    }
}

pub fn u64_key(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

pub fn read_u64(b: &[u8], at: usize) -> Result<u64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Error::Corrupt("short key".into()))
}

/// An `i64` written by `Key::i64` (sign bit flipped).
pub fn read_i64(b: &[u8], at: usize) -> Result<i64> {
    Ok((read_u64(b, at)? ^ (1 << 63)) as i64)
}

/// The smallest key greater than every key starting with `prefix`, or None when the prefix is
/// all 0xFF (then the range is open-ended).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct R {
        a: u32,
        b: String,
    }
    impl Record for R {
        const NAME: &'static str = "r";
    }

    #[test]
    fn round_trip_and_version_check() {
        let r = R {
            a: 7,
            b: "héllo".into(),
        };
        let b = encode(&r).unwrap();
        assert_eq!(b[0], 1);
        assert_eq!(decode::<R>(&b).unwrap(), r);
        let mut old = b.clone();
        old[0] = 9;
        assert!(matches!(decode::<R>(&old), Err(Error::Corrupt(_))));
        assert!(decode::<R>(&[]).is_err());
        assert!(decode::<R>(&[1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }

    #[test]
    fn keys_sort_numerically() {
        let a = Key::new().u64(2).u64(1).build();
        let b = Key::new().u64(10).u64(0).build();
        assert!(a < b);
        assert!(Key::new().i64(-5).build() < Key::new().i64(3).build());
        assert!(Key::new().str("ab").u64(9).build() < Key::new().str("abc").u64(0).build());
        assert_eq!(prefix_end(&[1, 2, 0xFF]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[0xFF]), None);
    }
}
