//! Text from outside (servers, browsers, configs) made safe to show: C0 and C1 control
//! characters (and DEL) dropped, so a server cannot move the cursor, recolour or fake output,
//! plant OSC 8 links or write the clipboard (OSC 52) through a message. One rule for every
//! place that shows such text: error messages quote it through [`printable`] (one line,
//! bounded), the CLI writes everything through [`terminal_safe`] (line breaks and tabs kept).

use std::borrow::Cow;

/// Whether `c` is dropped: every control character except, with `keep_breaks`, `\n` and `\t`.
fn dropped(c: char, keep_breaks: bool) -> bool {
    c.is_control() && !(keep_breaks && (c == '\n' || c == '\t'))
}

/// `s` without control characters other than `\n` and `\t` (borrowed when there are none).
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| dropped(c, true)) {
        Cow::Owned(s.chars().filter(|&c| !dropped(c, true)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Server text quoted in a one-line message: every control character dropped (line breaks
/// too), at most `max` characters, `…` when cut.
pub fn printable(s: &str, max: usize) -> String {
    let mut kept = s.chars().filter(|&c| !dropped(c, false));
    let mut out: String = kept.by_ref().take(max).collect();
    if kept.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_go_line_breaks_and_tabs_stay_in_terminal_text() {
        let hostile = "a\u{1b}[31mred\u{1b}]8;;https://evil/\u{7}link\u{1b}]52;c;ZXZpbA==\u{7}\u{9b}2J\r\nb\tc\u{7f}";
        let safe = terminal_safe(hostile);
        assert_eq!(safe, "a[31mred]8;;https://evil/link]52;c;ZXZpbA==2J\nb\tc");
        assert!(!safe.contains(['\u{1b}', '\u{9b}', '\u{7}', '\r']));
        assert!(matches!(terminal_safe("plain\ttext\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn printable_is_one_bounded_line() {
        assert_eq!(printable("a\u{1b}[31mb", 10), "a[31mb");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("a\nb\tc", 10), "abc");
        assert_eq!(printable("abc", 3), "abc");
    }
}
