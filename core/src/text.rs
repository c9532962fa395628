//! Text from outside (servers, browsers, configs) made safe to show. A terminal acts on
//! escape sequences, so a server could move the cursor, recolour or fake output, plant OSC 8
//! links or write the clipboard (OSC 52) through a message; dropping only the control
//! characters would leave the rest of each sequence behind as debris (`]8;;https://evil/`,
//! `[31m`). So every sequence goes whole: CSI (`ESC [` or U+009B, parameters, intermediates,
//! final byte), OSC (`ESC ]` or U+009D up to BEL or ST), DCS, SOS, PM and APC (`ESC P`,
//! `ESC X`, `ESC ^`, `ESC _` or their C1 forms, up to ST), other escapes (`ESC`, intermediates,
//! final byte), and every other C0/C1 control character and DEL. A string sequence that never
//! ends takes the rest of the text with it, as it would on a terminal.
//!
//! One rule for every place that shows such text: error messages quote it through
//! [`printable`] (one line, bounded), the CLI writes everything through [`terminal_safe`]
//! (line breaks and tabs kept).

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Chars;

const ESC: char = '\u{1b}';
const BEL: char = '\u{7}';
/// String Terminator, C1 form (the 7-bit form is `ESC \`).
const ST: char = '\u{9c}';

/// What a sequence's introducer starts.
enum Sequence {
    /// Control Sequence: parameters and intermediates up to one final byte.
    Csi,
    /// A control string (OSC, DCS, SOS, PM, APC): anything up to ST (or BEL for OSC).
    Text,
}

/// The sequence a C1 control (or the character after ESC, shifted to C1) introduces.
fn introduced_by(c1: char) -> Option<Sequence> {
    match c1 {
        '\u{9b}' => Some(Sequence::Csi),
        '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => Some(Sequence::Text),
        _ => None,
    }
}

/// Skips a CSI's parameter (0x30–0x3F) and intermediate (0x20–0x2F) bytes and its final byte
/// (0x40–0x7E); anything else ends the sequence without being taken (a terminal would
/// abort it there too).
fn skip_csi(rest: &mut Peekable<Chars<'_>>) {
    while let Some(&c) = rest.peek() {
        match c {
            '\u{20}'..='\u{3f}' => {
                rest.next();
            }
            '\u{40}'..='\u{7e}' => {
                rest.next();
                return;
            }
            _ => return,
        }
    }
}

/// Skips a control string through its terminator: ST (`ESC \` or U+009C) or BEL.
fn skip_string(rest: &mut Peekable<Chars<'_>>) {
    while let Some(c) = rest.next() {
        match c {
            BEL | ST => return,
            ESC if rest.peek() == Some(&'\\') => {
                rest.next();
                return;
            }
            _ => {}
        }
    }
}

/// Skips what follows an ESC: a CSI or control string, or intermediates (0x20–0x2F) and
/// a final byte (0x30–0x7E). An ESC before anything else goes alone.
fn skip_after_esc(rest: &mut Peekable<Chars<'_>>) {
    let Some(&next) = rest.peek() else { return };
    if ('\u{40}'..='\u{5f}').contains(&next) {
        rest.next();
        // ESC + 0x40–0x5F is the 7-bit form of the C1 control 0x80–0x9F.
        let c1 = char::from_u32(u32::from(next) + 0x40).unwrap_or(next);
        skip_introduced(c1, rest);
        return;
    }
    while let Some(&c) = rest.peek() {
        match c {
            '\u{20}'..='\u{2f}' => {
                rest.next();
            }
            '\u{30}'..='\u{7e}' => {
                rest.next();
                return;
            }
            _ => return,
        }
    }
}

fn skip_introduced(c1: char, rest: &mut Peekable<Chars<'_>>) {
    match introduced_by(c1) {
        Some(Sequence::Csi) => skip_csi(rest),
        Some(Sequence::Text) => skip_string(rest),
        None => {}
    }
}

/// Appends the first `max` visible characters of `s` to `out`, escape sequences and control
/// characters gone (`\n` and `\t` kept when `keep_breaks`); whether visible ones were left.
fn push_visible(s: &str, keep_breaks: bool, max: usize, out: &mut String) -> bool {
    let mut rest = s.chars().peekable();
    let mut kept = 0;
    while let Some(c) = rest.next() {
        if c == ESC {
            skip_after_esc(&mut rest);
            continue;
        }
        if c.is_control() && !(keep_breaks && (c == '\n' || c == '\t')) {
            skip_introduced(c, &mut rest);
            continue;
        }
        if kept == max {
            return true;
        }
        out.push(c);
        kept += 1;
    }
    false
}

/// `parts` joined by `sep`: one short loop per element type, where `[T]::join` links a large
/// instance per element type (the wasm build).
pub fn join<S: AsRef<str>>(parts: &[S], sep: &str) -> String {
    let mut out = String::new();
    let mut first = true;
    for part in parts {
        if !first {
            out.push_str(sep);
        }
        first = false;
        out.push_str(part.as_ref());
    }
    out
}

/// `bytes` as UTF-8 text, each invalid sequence (its maximal subpart) replaced by U+FFFD: what
/// `String::from_utf8_lossy` answers, through `str::from_utf8`, which the build links anyway
/// (the wasm build then carries no second UTF-8 decoder for this alone).
pub(crate) fn lossy(mut bytes: &[u8]) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push(char::REPLACEMENT_CHARACTER);
                bytes = rest
                    .get(e.error_len().unwrap_or(rest.len())..)
                    .unwrap_or_default();
            }
        }
    }
}

/// The index of the first byte of `s` that `f` takes. One loop for every predicate:
/// `bytes().any`, `all`, `position` each link an iterator fold for their closure (issue 11).
/// `all` is `find_byte(s, |b| !f(b)).is_none()`.
#[inline(never)]
pub fn find_byte(s: &str, f: fn(u8) -> bool) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if f(bytes[i]) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The index of the last byte of `s` that `f` takes (see [`find_byte`]).
#[inline(never)]
pub fn rfind_byte(s: &str, f: fn(u8) -> bool) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        if f(bytes[i]) {
            return Some(i);
        }
    }
    None
}

/// `s` is non-empty and all visible ASCII (0x21–0x7e), as an MCP session id or a DPoP nonce
/// must be.
pub(crate) fn is_visible_ascii(s: &str) -> bool {
    !s.is_empty() && find_byte(s, |b| !b.is_ascii_graphic()).is_none()
}

/// `s` is non-empty and all ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && find_byte(s, |b| !b.is_ascii_digit()).is_none()
}

/// `s` as a decimal number: one or more ASCII digits, `None` otherwise or past `u64::MAX`
/// (what `str::parse::<u64>` answers, without its sign; one short loop where `parse` links
/// a generic one per integer type).
pub fn decimal(s: &str) -> Option<u64> {
    if !is_digits(s) {
        return None;
    }
    s.bytes().try_fold(0u64, |v, b| {
        v.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// `s` without escape sequences or control characters other than `\n` and `\t` (borrowed
/// when there are none).
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        let mut out = String::with_capacity(s.len());
        push_visible(s, true, usize::MAX, &mut out);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Server text quoted in a one-line message: escape sequences and every control character
/// dropped (line breaks too), at most `max` characters, `…` when cut.
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::new();
    if push_visible(s, false, max, &mut out) {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers as `String::from_utf8_lossy` on valid text, truncated sequences,
    /// stray continuation bytes, surrogates, overlong forms and bytes never valid.
    #[test]
    fn lossy_answers_as_from_utf8_lossy() {
        let cases: [&[u8]; 12] = [
            b"",
            b"plain",
            "ä😀 text".as_bytes(),
            b"\xff",
            b"a\xc3",
            b"a\xf0\x9f\x98",
            b"\x80\x80x",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xf4\x90\x80\x80",
            b"ok\xe2\x82z\xe2\x82\xac\xf8",
            b"\xef\xbb\xbfbom",
        ];
        for bytes in cases {
            assert_eq!(lossy(bytes), String::from_utf8_lossy(bytes), "{bytes:?}");
        }
        let mut next = crate::test_host::numbers(7);
        for _ in 0..2_000 {
            let pool = [0x41u8, 0x80, 0xbf, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xff, 0x9f];
            let bytes: Vec<u8> = (0..next() % 9)
                .map(|_| pool[next() as usize % pool.len()])
                .collect();
            assert_eq!(lossy(&bytes), String::from_utf8_lossy(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn decimal_answers_as_parse_without_a_sign() {
        for s in [
            "",
            "0",
            "7",
            "007",
            "1500",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "+5",
            "-5",
            " 5",
            "5 ",
            "1_000",
            "0x10",
            "٣",
            "1.0",
        ] {
            let want = if s.starts_with('+') {
                None
            } else {
                s.parse::<u64>().ok()
            };
            assert_eq!(decimal(s), want, "{s:?}");
        }
    }

    #[test]
    fn join_puts_the_separator_between_parts_only() {
        assert_eq!(join::<&str>(&[], ", "), "");
        assert_eq!(join(&["a"], ", "), "a");
        assert_eq!(join(&["", "b", ""], ","), ",b,");
        assert_eq!(join(&["x".to_string(), "y".to_string()], "`, `"), "x`, `y");
    }

    #[test]
    fn visible_ascii_and_digits() {
        assert!(is_visible_ascii("a-Z_~!"));
        assert!(!is_visible_ascii(""));
        assert!(!is_visible_ascii("a b"));
        assert!(!is_visible_ascii("é"));
        assert!(is_digits("0123"));
        assert!(!is_digits(""));
        assert!(!is_digits("12a"));
    }

    /// `find_byte` and `rfind_byte` give what `bytes().position` and `rposition` give.
    #[test]
    fn byte_searches_agree_with_the_iterator_forms() {
        let cases = ["", "-", "a-b-c", "abc", "--", "é-ü", " x "];
        let preds: [fn(u8) -> bool; 3] = [|b| b == b'-', |b| b >= 0x80, |b| b > b' '];
        for s in cases {
            for f in preds {
                assert_eq!(find_byte(s, f), s.bytes().position(f), "{s:?}");
                assert_eq!(rfind_byte(s, f), s.bytes().rposition(f), "{s:?}");
            }
        }
    }

    #[test]
    fn whole_sequences_go_line_breaks_and_tabs_stay_in_terminal_text() {
        let hostile = "a\u{1b}[31mred\u{1b}[0m \u{1b}]8;;https://evil/\u{7}link\u{1b}]8;;\u{1b}\\ \u{1b}]52;c;ZXZpbA==\u{7}\u{9b}2J\r\nb\tc\u{7f}";
        let safe = terminal_safe(hostile);
        assert_eq!(safe, "ared link \nb\tc");
        assert!(matches!(terminal_safe("plain\ttext\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn each_kind_of_sequence_goes_whole() {
        let cases = [
            // CSI, 7-bit and C1, with parameters, a private marker and an intermediate
            ("x\u{1b}[1;31mY", "xY"),
            ("x\u{1b}[?25lY", "xY"),
            ("x\u{1b}[1 qY", "xY"),
            ("x\u{9b}2JY", "xY"),
            // OSC ended by BEL, by ESC \ and by C1 ST; C1 OSC
            ("x\u{1b}]0;title\u{7}Y", "xY"),
            ("x\u{1b}]8;;https://evil/\u{1b}\\Y", "xY"),
            ("x\u{1b}]52;c;ZXZpbA==\u{9c}Y", "xY"),
            ("x\u{9d}0;t\u{7}Y", "xY"),
            // DCS, SOS, PM, APC (7-bit and C1)
            ("x\u{1b}P1$r0m\u{1b}\\Y", "xY"),
            ("x\u{90}q#0\u{9c}Y", "xY"),
            ("x\u{1b}Xsos\u{1b}\\Y", "xY"),
            ("x\u{1b}^pm\u{1b}\\Y", "xY"),
            ("x\u{1b}_apc\u{1b}\\Y", "xY"),
            ("x\u{9f}apc\u{9c}Y", "xY"),
            // lone ESC + character, ESC + intermediate + final (charset), ESC at the end
            ("x\u{1b}7Y", "xY"),
            ("x\u{1b}cY", "xY"),
            ("x\u{1b}(BY", "xY"),
            ("xY\u{1b}", "xY"),
            // an OSC that never ends takes the rest
            ("xY\u{1b}]8;;https://evil/ click", "xY"),
            // a CSI cut by a non-ASCII character keeps it
            ("x\u{1b}[3éY", "xéY"),
            // other controls: dropped one by one
            ("x\u{0}\u{8}\u{85}\rY", "xY"),
        ];
        for (input, want) in cases {
            assert_eq!(terminal_safe(input), want, "{input:?}");
            assert_eq!(printable(input, 100), want, "{input:?}");
        }
    }

    #[test]
    fn no_mix_of_sequence_pieces_leaves_a_control_character() {
        let pieces = [
            "\u{1b}", "[", "]", "P", "_", "\\", "\u{7}", "\u{9b}", "\u{9c}", "\u{9d}", "1;", "m",
            "a", "\n", "é",
        ];
        let n = pieces.len();
        for i in 0..n * n * n * n {
            let s: String = [i % n, i / n % n, i / (n * n) % n, i / (n * n * n)]
                .iter()
                .map(|&k| pieces[k])
                .collect();
            let safe = terminal_safe(&s);
            assert!(
                !safe.chars().any(|c| c.is_control() && c != '\n'),
                "{s:?} → {safe:?}"
            );
            assert!(!printable(&s, 10).chars().any(char::is_control), "{s:?}");
        }
    }

    #[test]
    fn printable_is_one_bounded_line() {
        assert_eq!(printable("a\u{1b}[31mb", 10), "ab");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("a\nb\tc", 10), "abc");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(printable("ab\u{1b}]8;;x\u{7}", 2), "ab");
    }
}
