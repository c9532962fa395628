//! The one writer for everything mcp-auth prints (the commands and the login prompts of the
//! native host). Standard output carries the results; when its reader goes away
//! (`mcp-auth status | head -1`), the write fails with an I/O error of kind `BrokenPipe`
//! (Rust ignores SIGPIPE), and that error ends the command quietly: it travels back as a
//! [`CliError`] marked quiet, `main_entry` prints nothing and exits with
//! [`CLOSED_STDOUT_CODE`], the status a shell shows for a pipeline writer ended by SIGPIPE.
//! Standard error carries notes and prompts only; writing them is best effort, so a closed
//! stderr never changes what a command does.
//!
//! Much of what is printed came from outside (server error descriptions, registration
//! errors, issuer and resource values, scopes, tool names and results): every write goes
//! through [`mcp_auth_core::text::terminal_safe`], which drops C0/C1 control characters but
//! newlines and tabs, so no server text can reach the terminal as an escape sequence.

use super::{CliError, CliResult};
use mcp_auth_core::text::terminal_safe;
use std::fmt;
use std::io::{self, Write};

/// The exit status after standard output was closed by its reader: 128 + SIGPIPE (13), what
/// `yes | head -1` reports for `yes`, so a script sees the same as with any Unix tool.
pub const CLOSED_STDOUT_CODE: i32 = 141;

/// Writes to standard output and flushes, so a closed pipe shows up at this very write.
pub fn try_stdout(args: fmt::Arguments<'_>) -> io::Result<()> {
    let text = args.to_string();
    let mut out = io::stdout().lock();
    out.write_all(terminal_safe(&text).as_bytes())?;
    out.flush()
}

/// The error to return for a failed write to standard output: quiet for a closed pipe,
/// otherwise `what` and the reason.
pub fn failed(e: io::Error, what: &str) -> CliError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        CliError::closed_stdout()
    } else {
        CliError::new(format!("{what}: {e}"))
    }
}

/// Writes to standard output; a closed pipe ends the command quietly (see the module docs).
pub fn stdout(args: fmt::Arguments<'_>) -> CliResult {
    try_stdout(args).map_err(|e| failed(e, "cannot write to standard output"))
}

/// Writes one line to standard output.
pub fn stdout_line(args: fmt::Arguments<'_>) -> CliResult {
    stdout(format_args!("{args}\n"))
}

/// Writes to standard error, best effort: if nobody reads it, the command carries on.
pub fn stderr(args: fmt::Arguments<'_>) {
    let text = args.to_string();
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(terminal_safe(&text).as_bytes())
        .and_then(|()| err.flush());
}

/// Writes one line to standard error, best effort.
pub fn stderr_line(args: fmt::Arguments<'_>) {
    stderr(format_args!("{args}\n"));
}

/// `println!` through [`stdout_line`]: evaluates to a `CliResult` to `?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout_line(format_args!($($arg)*))
    };
}

/// `print!` through [`stdout`]: evaluates to a `CliResult` to `?`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` through [`stderr_line`] (best effort, no result).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_quiet_and_other_write_errors_are_not() {
        let closed = failed(io::Error::from(io::ErrorKind::BrokenPipe), "cannot write");
        assert!(closed.quiet);
        assert_eq!(closed.code, CLOSED_STDOUT_CODE);
        assert!(closed.message.is_empty());

        let full = failed(io::Error::from(io::ErrorKind::StorageFull), "cannot write");
        assert!(!full.quiet);
        assert_eq!(full.code, 1);
        assert!(
            full.message.starts_with("cannot write: "),
            "{}",
            full.message
        );
    }
}
