//! Base64 in the two alphabets OAuth and MCP use, through one crate (`base64ct`: strict,
//! canonical encodings only, and small in the wasm build).

use base64ct::{Base64UrlUnpadded, Encoding};

/// base64url without padding (PKCE, JWS, JWK members, thumbprints).
#[inline]
pub fn url(bytes: impl AsRef<[u8]>) -> String {
    url_of(bytes.as_ref())
}

/// [`url`] past the conversion: one copy for every argument type.
#[inline(never)]
fn url_of(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding; `None` for anything else (padding, other alphabets,
/// non-canonical trailing bits).
pub fn url_decode(text: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).ok()
}

/// Decodes base64url without padding into `out`, as [`url_decode`] refuses and accepts; `None`
/// also when the bytes do not fit in `out`.
pub fn url_decode_into<'a>(text: &str, out: &'a mut [u8]) -> Option<&'a [u8]> {
    Base64UrlUnpadded::decode(text, out).ok()
}

/// Standard base64 with padding (HTTP Basic credentials, MCP header values).
///
/// Made from the url alphabet's encoding, as the two alphabets differ only in `-` and `_`
/// against `+` and `/`, and in padding: one encoder serves both in the wasm build.
#[inline]
pub fn standard(bytes: impl AsRef<[u8]>) -> String {
    standard_of(bytes.as_ref())
}

/// [`standard`] past the conversion: one copy for every argument type.
#[inline(never)]
fn standard_of(bytes: &[u8]) -> String {
    let url = url_of(bytes);
    let mut out = String::with_capacity(url.len() + 2);
    for c in url.chars() {
        out.push(match c {
            '-' => '+',
            '_' => '/',
            c => c,
        });
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refusals() {
        // RFC 4648 §10 vectors, and the url alphabet's two characters
        assert_eq!(standard(""), "");
        assert_eq!(standard("foo"), "Zm9v");
        assert_eq!(standard("foob"), "Zm9vYg==");
        assert_eq!(standard("fooba"), "Zm9vYmE=");
        assert_eq!(url("foob"), "Zm9vYg");
        assert_eq!(url([0xfb, 0xff]), "-_8");
        assert_eq!(standard([0xfb, 0xff]), "+/8=");
        assert_eq!(url_decode("-_8"), Some(vec![0xfb, 0xff]));
        // padding, the other alphabet, and non-canonical trailing bits are refused
        assert_eq!(url_decode("Zm9vYg=="), None);
        assert_eq!(url_decode("+/8"), None);
        assert_eq!(url_decode("-_9"), None);
        // into a buffer: what fits, as url_decode; longer or refused input is None
        assert_eq!(url_decode_into("-_8", &mut [0; 2]), Some(&[0xfb, 0xff][..]));
        assert_eq!(url_decode_into("-_8", &mut [0; 1]), None);
        assert_eq!(url_decode_into("-_9", &mut [0; 2]), None);
    }
}
