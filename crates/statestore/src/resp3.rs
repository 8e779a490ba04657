//! The RESP3 payloads of the state store protocol, pure: bytes in, values out, no I/O.
//!
//! Every MQTT message carries exactly one frame, so unlike a socket codec there is no "need
//! more bytes": a payload that ends early is an error, and so is anything after the frame.
//! The parser never panics, never allocates more than its input justifies, and its
//! [`Resp3Error`] says what is wrong and at which byte.
//!
//! | value | bytes |
//! |---|---|
//! | `SET k v` | `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n` |
//! | `SET k v NX PX 500` | `*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nPX\r\n$3\r\n500\r\n` |
//! | `GET k`, `DEL k` | `*2\r\n$3\r\nGET\r\n$1\r\nk\r\n` |
//! | `VDEL k v` | `*3\r\n$4\r\nVDEL\r\n$1\r\nk\r\n$1\r\nv\r\n` |
//! | `KEYNOTIFY k [STOP]` | `*2\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n` (`*3` and `$4\r\nSTOP\r\n`) |
//! | [`Response::Ok`] | `+OK\r\n` |
//! | [`Response::Integer`] | `:1\r\n`, `:0\r\n`, `:-1\r\n` (not applied) |
//! | [`Response::NotFound`] | `$-1\r\n` |
//! | [`Response::Value`] | `$3\r\nabc\r\n` |
//! | [`Response::Error`] | `-ERR missing timestamp\r\n` |
//! | [`Notification::Set`] | `*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$1\r\nv\r\n` |
//! | [`Notification::Delete`] | `*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n` |
//!
//! Verbs are written upper case and read in any case.

use std::fmt;

use bytes::Bytes;

/// When a `SET` applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SetCondition {
    /// Always (no option).
    #[default]
    Always,
    /// Only when the key does not exist (`NX`).
    NotExists,
    /// When the key does not exist or already holds this very value (`NEX`).
    NotExistsOrEqual,
}

/// A request to the state store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `SET key value [NX|NEX] [PX ms]`.
    Set {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// When it applies.
        condition: SetCondition,
        /// Time to live in milliseconds (`PX`).
        expires_ms: Option<u64>,
    },
    /// `GET key`.
    Get {
        /// The key.
        key: Bytes,
    },
    /// `DEL key`.
    Del {
        /// The key.
        key: Bytes,
    },
    /// `VDEL key value`: delete only while the key holds `value`.
    VDel {
        /// The key.
        key: Bytes,
        /// The value the key must hold.
        value: Bytes,
    },
    /// `KEYNOTIFY key [STOP]`: start (or stop) notifications about a key.
    KeyNotify {
        /// The key.
        key: Bytes,
        /// `STOP`: end the notifications.
        stop: bool,
    },
}

/// A reply of the state store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+OK`: a SET or KEYNOTIFY applied.
    Ok,
    /// `:<n>`: keys deleted; `-1` when a condition kept a SET or VDEL from applying.
    Integer(i64),
    /// `$-1`: GET of a missing key.
    NotFound,
    /// `$<n>`: the value of a GET.
    Value(Bytes),
    /// `-ERR <text>`: the request was refused; the text without the `ERR ` prefix.
    Error(String),
}

/// What happened to an observed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// The key was set to this value.
    Set(Bytes),
    /// The key was deleted (or expired).
    Delete,
}

/// Why a payload is not valid RESP3, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RESP3 at byte {offset}: {what}")]
pub struct Resp3Error {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

/// Why a well-formed frame is not a valid request; each maps to the service's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not a RESP3 array of bulk strings, or an unknown option.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// A verb the state store does not know.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// Too few or too many arguments for the verb.
    #[error("wrong number of arguments for {0}")]
    WrongArity(&'static str),
}

impl From<Resp3Error> for RequestError {
    fn from(error: Resp3Error) -> Self {
        Self::Syntax(error.to_string())
    }
}

/// One parsed frame (only the types the protocol uses).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    Simple(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Option<Bytes>),
    Array(Vec<Bytes>),
}

// ----------------------------------------------------------------------------- encoding

fn push_array(out: &mut Vec<u8>, len: usize) {
    out.push(b'*');
    out.extend_from_slice(len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(data.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

fn encode_array(parts: &[&[u8]]) -> Bytes {
    let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    push_array(&mut out, parts.len());
    for part in parts {
        push_bulk(&mut out, part);
    }
    Bytes::from(out)
}

impl Request {
    /// The verb, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Self::Set { .. } => "SET",
            Self::Get { .. } => "GET",
            Self::Del { .. } => "DEL",
            Self::VDel { .. } => "VDEL",
            Self::KeyNotify { .. } => "KEYNOTIFY",
        }
    }

    /// The key the request is about.
    pub fn key(&self) -> &Bytes {
        match self {
            Self::Set { key, .. }
            | Self::Get { key }
            | Self::Del { key }
            | Self::VDel { key, .. }
            | Self::KeyNotify { key, .. } => key,
        }
    }

    /// The RESP3 bytes: an array of bulk strings, options in the order `NX|NEX`, `PX ms`.
    pub fn encode(&self) -> Bytes {
        let verb = self.verb().as_bytes();
        match self {
            Self::Set {
                key,
                value,
                condition,
                expires_ms,
            } => {
                let mut parts: Vec<&[u8]> = vec![verb, key, value];
                match condition {
                    SetCondition::Always => {}
                    SetCondition::NotExists => parts.push(b"NX"),
                    SetCondition::NotExistsOrEqual => parts.push(b"NEX"),
                }
                let millis = expires_ms.map(|ms| ms.to_string());
                if let Some(millis) = &millis {
                    parts.push(b"PX");
                    parts.push(millis.as_bytes());
                }
                encode_array(&parts)
            }
            Self::Get { key } | Self::Del { key } => encode_array(&[verb, key]),
            Self::VDel { key, value } => encode_array(&[verb, key, value]),
            Self::KeyNotify { key, stop: false } => encode_array(&[verb, key]),
            Self::KeyNotify { key, stop: true } => encode_array(&[verb, key, b"STOP"]),
        }
    }

    /// Parses a request payload.
    ///
    /// # Errors
    /// [`RequestError`] naming what is wrong; never panics.
    pub fn parse(payload: &Bytes) -> Result<Self, RequestError> {
        let Frame::Array(args) = parse_frame(payload)? else {
            return Err(RequestError::Syntax(
                "a request is an array of bulk strings".into(),
            ));
        };
        let Some((verb, args)) = args.split_first() else {
            return Err(RequestError::Syntax("an empty array has no command".into()));
        };
        let verb = verb.to_ascii_uppercase();
        let arity = |name: &'static str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(RequestError::WrongArity(name))
            }
        };
        match verb.as_slice() {
            b"SET" => {
                arity("SET", args.len() >= 2)?;
                let (condition, expires_ms) = parse_set_options(&args[2..])?;
                Ok(Self::Set {
                    key: args[0].clone(),
                    value: args[1].clone(),
                    condition,
                    expires_ms,
                })
            }
            b"GET" | b"DEL" => {
                arity(if verb == b"GET" { "GET" } else { "DEL" }, args.len() == 1)?;
                let key = args[0].clone();
                Ok(if verb == b"GET" {
                    Self::Get { key }
                } else {
                    Self::Del { key }
                })
            }
            b"VDEL" => {
                arity("VDEL", args.len() == 2)?;
                Ok(Self::VDel {
                    key: args[0].clone(),
                    value: args[1].clone(),
                })
            }
            b"KEYNOTIFY" => {
                arity("KEYNOTIFY", matches!(args.len(), 1 | 2))?;
                let stop = match args.get(1) {
                    None => false,
                    Some(option) if option.eq_ignore_ascii_case(b"STOP") => true,
                    Some(option) => {
                        return Err(RequestError::Syntax(format!(
                            "unknown KEYNOTIFY option {:?}",
                            String::from_utf8_lossy(option)
                        )));
                    }
                };
                Ok(Self::KeyNotify {
                    key: args[0].clone(),
                    stop,
                })
            }
            other => Err(RequestError::UnknownCommand(
                String::from_utf8_lossy(other).chars().take(64).collect(),
            )),
        }
    }
}

/// `[NX|NEX] [PX ms]` in any order, each at most once.
fn parse_set_options(options: &[Bytes]) -> Result<(SetCondition, Option<u64>), RequestError> {
    let mut condition = None;
    let mut expires = None;
    let mut rest = options.iter();
    while let Some(option) = rest.next() {
        let upper = option.to_ascii_uppercase();
        match upper.as_slice() {
            b"NX" | b"NEX" if condition.is_none() => {
                condition = Some(if upper == b"NX" {
                    SetCondition::NotExists
                } else {
                    SetCondition::NotExistsOrEqual
                });
            }
            b"PX" if expires.is_none() => {
                let millis = rest.next().ok_or(RequestError::Syntax(
                    "PX needs a number of milliseconds".into(),
                ))?;
                let millis = std::str::from_utf8(millis)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| {
                        RequestError::Syntax(format!(
                            "PX {:?} is not a positive number of milliseconds",
                            String::from_utf8_lossy(millis)
                        ))
                    })?;
                expires = Some(millis);
            }
            _ => {
                return Err(RequestError::Syntax(format!(
                    "unknown or repeated SET option {:?}",
                    String::from_utf8_lossy(option)
                )));
            }
        }
    }
    Ok((condition.unwrap_or_default(), expires))
}

impl Response {
    /// The RESP3 bytes. Line breaks in an error text become spaces (a simple error is one line).
    pub fn encode(&self) -> Bytes {
        match self {
            Self::Ok => Bytes::from_static(b"+OK\r\n"),
            Self::Integer(n) => Bytes::from(format!(":{n}\r\n")),
            Self::NotFound => Bytes::from_static(b"$-1\r\n"),
            Self::Value(value) => {
                let mut out = Vec::with_capacity(value.len() + 16);
                push_bulk(&mut out, value);
                Bytes::from(out)
            }
            Self::Error(text) => {
                let text = text.replace(['\r', '\n'], " ");
                Bytes::from(format!("-ERR {text}\r\n"))
            }
        }
    }

    /// Parses a response payload.
    ///
    /// # Errors
    /// [`Resp3Error`] for anything that is not one of the responses above; never panics.
    pub fn parse(payload: &Bytes) -> Result<Self, Resp3Error> {
        match parse_frame(payload)? {
            Frame::Simple(text) if text.as_ref() == b"OK" => Ok(Self::Ok),
            Frame::Simple(text) => Err(Resp3Error {
                offset: 1,
                what: format!(
                    "unexpected simple string {:?}",
                    String::from_utf8_lossy(&text)
                ),
            }),
            Frame::Error(text) => {
                let text = String::from_utf8_lossy(&text);
                let text = text
                    .strip_prefix("ERR ")
                    .or_else(|| text.strip_prefix("ERR"))
                    .unwrap_or(&text);
                Ok(Self::Error(text.to_owned()))
            }
            Frame::Integer(n) => Ok(Self::Integer(n)),
            Frame::Bulk(None) => Ok(Self::NotFound),
            Frame::Bulk(Some(value)) => Ok(Self::Value(value)),
            Frame::Array(_) => Err(Resp3Error {
                offset: 0,
                what: "a response is not an array".into(),
            }),
        }
    }
}

impl Notification {
    /// The RESP3 bytes.
    pub fn encode(&self) -> Bytes {
        match self {
            Self::Set(value) => encode_array(&[b"NOTIFY", b"SET", b"VALUE", value]),
            Self::Delete => encode_array(&[b"NOTIFY", b"DELETE"]),
        }
    }

    /// Parses a notification payload.
    ///
    /// # Errors
    /// [`Resp3Error`] for anything but the two notifications above; never panics.
    pub fn parse(payload: &Bytes) -> Result<Self, Resp3Error> {
        let wrong = |what: &str| Resp3Error {
            offset: 0,
            what: what.to_owned(),
        };
        let Frame::Array(parts) = parse_frame(payload)? else {
            return Err(wrong("a notification is an array"));
        };
        match parts.as_slice() {
            [notify, set, value_tag, value]
                if notify.as_ref() == b"NOTIFY"
                    && set.as_ref() == b"SET"
                    && value_tag.as_ref() == b"VALUE" =>
            {
                Ok(Self::Set(value.clone()))
            }
            [notify, delete] if notify.as_ref() == b"NOTIFY" && delete.as_ref() == b"DELETE" => {
                Ok(Self::Delete)
            }
            _ => Err(wrong("expected NOTIFY SET VALUE <value> or NOTIFY DELETE")),
        }
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set(value) => write!(f, "SET {}", String::from_utf8_lossy(value)),
            Self::Delete => f.write_str("DELETE"),
        }
    }
}

// ----------------------------------------------------------------------------- parsing

/// A cursor over one payload.
struct Cursor<'a> {
    input: &'a Bytes,
    pos: usize,
}

impl Cursor<'_> {
    fn error(&self, what: impl Into<String>) -> Resp3Error {
        Resp3Error {
            offset: self.pos,
            what: what.into(),
        }
    }

    fn byte(&mut self) -> Result<u8, Resp3Error> {
        let byte = *self
            .input
            .get(self.pos)
            .ok_or_else(|| self.error("the payload ends early"))?;
        self.pos += 1;
        Ok(byte)
    }

    /// The bytes up to the next `\r\n` (which is consumed).
    fn line(&mut self) -> Result<&[u8], Resp3Error> {
        let rest = &self.input[self.pos..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| self.error("a line does not end with \\r\\n"))?;
        let start = self.pos;
        self.pos += end + 2;
        Ok(&self.input[start..start + end])
    }

    /// A decimal integer line: optional `-`, at least one digit, no overflow.
    fn integer(&mut self) -> Result<i64, Resp3Error> {
        let start = self.pos;
        let line = self.line()?;
        let text = std::str::from_utf8(line).ok();
        let valid = text.is_some_and(|t| {
            let digits = t.strip_prefix('-').unwrap_or(t);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        });
        match text.filter(|_| valid).and_then(|t| t.parse::<i64>().ok()) {
            Some(n) => Ok(n),
            None => Err(Resp3Error {
                offset: start,
                what: format!("{:?} is not an integer", String::from_utf8_lossy(line)),
            }),
        }
    }

    /// A bulk string after its `$`; `None` for the null bulk string `$-1`.
    fn bulk(&mut self) -> Result<Option<Bytes>, Resp3Error> {
        let start = self.pos;
        let len = self.integer()?;
        if len == -1 {
            return Ok(None);
        }
        let left = self.input.len() - self.pos;
        let len = usize::try_from(len)
            .map_err(|_| Resp3Error {
                offset: start,
                what: format!("bulk string length {len} is negative"),
            })?
            .min(usize::MAX - 2);
        if len + 2 > left {
            return Err(Resp3Error {
                offset: start,
                what: format!("bulk string of {len} bytes but only {left} bytes follow"),
            });
        }
        let data = self.input.slice(self.pos..self.pos + len);
        self.pos += len;
        if &self.input[self.pos..self.pos + 2] != b"\r\n" {
            return Err(self.error("a bulk string is not followed by \\r\\n"));
        }
        self.pos += 2;
        Ok(Some(data))
    }
}

/// Parses exactly one frame: arrays may only hold (non-null) bulk strings.
fn parse_frame(input: &Bytes) -> Result<Frame, Resp3Error> {
    let mut cursor = Cursor { input, pos: 0 };
    let frame = match cursor.byte()? {
        b'+' => Frame::Simple(Bytes::copy_from_slice(cursor.line()?)),
        b'-' => Frame::Error(Bytes::copy_from_slice(cursor.line()?)),
        b':' => Frame::Integer(cursor.integer()?),
        b'$' => Frame::Bulk(cursor.bulk()?),
        b'*' => {
            let start = cursor.pos;
            let len = cursor.integer()?;
            // Each element takes at least 6 bytes (`$0\r\n\r\n`): a larger count is a lie, and
            // checking it first keeps a tiny payload from reserving a huge vector.
            let left = input.len() - cursor.pos;
            let len = usize::try_from(len)
                .ok()
                .filter(|n| n.saturating_mul(6) <= left)
                .ok_or_else(|| Resp3Error {
                    offset: start,
                    what: format!("array of {len} elements does not fit in {left} bytes"),
                })?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                if cursor.byte()? != b'$' {
                    cursor.pos -= 1;
                    return Err(cursor.error("array elements must be bulk strings"));
                }
                let item = cursor
                    .bulk()?
                    .ok_or_else(|| cursor.error("array elements must not be null"))?;
                items.push(item);
            }
            Frame::Array(items)
        }
        other => {
            cursor.pos -= 1;
            return Err(cursor.error(format!(
                "unknown frame type {:?}",
                char::from(other).escape_default().to_string()
            )));
        }
    };
    if cursor.pos != input.len() {
        return Err(cursor.error(format!(
            "{} bytes follow the frame",
            input.len() - cursor.pos
        )));
    }
    Ok(frame)
}

#[cfg(test)]
#[path = "resp3_tests.rs"]
mod tests;
