//! The text Python's `json.dumps(json.loads(body))` gives, for `json_string_input`: the app
//! receives the caller's payload as one string, and an app written against the original
//! parses exactly that text.
//!
//! Python's defaults are `", "` and `": "` between items, keys in the order sent,
//! non-ASCII characters as `\uXXXX` (surrogate pairs above U+FFFF), and floats as `repr`
//! writes them (`1e-05`, `1e+16`, `100.0`). The body is transcoded value by value from the
//! parser into a serializer with that formatting, so the key order is the body's own.
//!
//! Integers are kept as sent when they fit 64 bits; a larger one, and `-0`, become floats
//! (`serde_json` reads them so), where Python keeps them as integers.

use std::io::{self, Write};

use serde_json::ser::Formatter;

/// The JSON text `json` as Python's `json.dumps` writes it; an error if it is not JSON.
pub fn dumps(json: &[u8]) -> Result<String, serde_json::Error> {
    let mut parser = serde_json::Deserializer::from_slice(json);
    let mut text = Vec::new();
    serde_transcode::transcode(
        &mut parser,
        &mut serde_json::Serializer::with_formatter(&mut text, PythonFormatter),
    )?;
    parser.end()?;
    // The formatter escapes everything outside ASCII, so each byte is one character.
    Ok(text.into_iter().map(char::from).collect())
}

/// `json.dumps` with its default arguments (`ensure_ascii=True`, separators `", "`, `": "`).
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(python_repr(value).as_bytes())
    }

    /// The parts of a string that JSON needs no escape for. Python escapes everything
    /// outside `' '..='~'` there (DEL too); quotes, backslashes and control characters reach
    /// `write_char_escape`, whose default (`\n`, `\u001f`) is Python's.
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut units = [0; 2];
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// Python's `repr` of a finite float: the shortest digits that read back as `value` (which
/// Rust's `{:e}` also gives), in positional notation when the decimal point falls within 16
/// digits of them, else as `d.ddde±XX`.
fn python_repr(value: f64) -> String {
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // The value is 0.DIGITS × 10^point.
    let point = exponent + 1;
    let count = digits.len() as i32;
    let body = if (-3..=16).contains(&point) {
        if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point < count {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        } else {
            format!("{digits}{}.0", "0".repeat((point - count) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{fraction}e{exp_sign}{:02}", exponent.unsigned_abs())
    };
    format!("{sign}{body}")
}
