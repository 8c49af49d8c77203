//! Terminal output: colour only when stdout is a terminal, and text that cannot drive it.

use std::io::{IsTerminal, Write};

use crate::Failure;

/// Writes `text` to stdout. A closed pipe (`keycard jwks | head -1`) ends the command
/// quietly; any other write error (a full disk behind a redirect) is an error, so that a key
/// is never silently cut short.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure {
            code: 1,
            message: String::new(),
        }),
        Err(e) => Err(Failure::usage(format!(
            "cannot write to stdout: {}",
            e.kind()
        ))),
    }
}

/// [`emit`] with a newline.
pub(crate) fn emitln(text: &str) -> Result<(), Failure> {
    emit(&format!("{text}\n"))
}

/// How to write to stdout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    color: bool,
    /// Whether stderr is a terminal: hints for a person go there, never into a pipe.
    pub(crate) stderr_is_terminal: bool,
}

impl Output {
    /// Colour when stdout is a terminal, unless `NO_COLOR` is set or `TERM=dumb`.
    pub(crate) fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Self {
            color: std::io::stdout().is_terminal() && !no_color,
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    /// Bold.
    pub(crate) fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    /// Bold red: refusals and warnings that matter.
    pub(crate) fn red(&self, text: &str) -> String {
        self.paint("1;31", text)
    }
    /// Green: success.
    pub(crate) fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    /// Yellow: soon to matter.
    pub(crate) fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    /// Dim: secondary detail.
    pub(crate) fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// An error message on one line: newlines and other control characters become spaces or
/// escapes.
pub(crate) fn one_line(message: &str) -> String {
    let joined: String = message
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    safe(&joined)
}

/// Text from a token, made safe for a terminal: control characters (ESC included) and the
/// invisible or reordering Unicode format characters are written as `\u{..}` escapes, so a
/// hostile token cannot move the cursor, recolour the screen or reorder what is shown.
pub(crate) fn safe(text: &str) -> String {
    if text.chars().all(|c| !needs_escape(c)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2069 | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// A JSON value for a person, as compact JSON (so `"1"` and `1` stay apart: simplejwt and
/// keycard both care), terminal-safe.
pub(crate) fn show_value(v: &serde_json::Value) -> String {
    safe(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_drive_a_terminal() {
        assert_eq!(safe("plain text: é ü 日本"), "plain text: é ü 日本");
        assert_eq!(safe("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(safe("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(safe("bell\x07"), "bell\\u{7}");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("first\n  second\r\n"), "first second");
    }

    #[test]
    fn values_are_json_and_safe() {
        assert_eq!(show_value(&serde_json::json!("1")), "\"1\"");
        assert_eq!(show_value(&serde_json::json!(["a", 1])), "[\"a\",1]");
        // serde_json already escapes C0 controls; the bidi override needs our escape.
        assert_eq!(
            show_value(&serde_json::json!("x\u{202e}")),
            "\"x\\u{202e}\""
        );
    }
}
