//! Byte-exact tests from the protocol reference, error cases, and properties.

use super::*;
use proptest::prelude::*;

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

fn set(
    key: &'static [u8],
    value: &'static [u8],
    condition: SetCondition,
    px: Option<u64>,
) -> Request {
    Request::Set {
        key: b(key),
        value: b(value),
        condition,
        expires_ms: px,
    }
}

#[test]
fn requests_encode_to_the_reference_bytes() {
    let cases: Vec<(Request, &[u8])> = vec![
        (
            set(b"key", b"value", SetCondition::Always, None),
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
        ),
        (
            set(b"k", b"v", SetCondition::NotExists, None),
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n",
        ),
        (
            set(b"k", b"v", SetCondition::NotExistsOrEqual, None),
            b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\nNEX\r\n",
        ),
        (
            set(b"k", b"v", SetCondition::Always, Some(1000)),
            b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n1000\r\n",
        ),
        (
            set(b"k", b"v", SetCondition::NotExists, Some(500)),
            b"*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nPX\r\n$3\r\n500\r\n",
        ),
        (
            Request::Get { key: b(b"key") },
            b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
        ),
        (
            Request::Del { key: b(b"key") },
            b"*2\r\n$3\r\nDEL\r\n$3\r\nkey\r\n",
        ),
        (
            Request::VDel {
                key: b(b"key"),
                value: b(b"value"),
            },
            b"*3\r\n$4\r\nVDEL\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
        ),
        (
            Request::KeyNotify {
                key: b(b"key"),
                stop: false,
            },
            b"*2\r\n$9\r\nKEYNOTIFY\r\n$3\r\nkey\r\n",
        ),
        (
            Request::KeyNotify {
                key: b(b"key"),
                stop: true,
            },
            b"*3\r\n$9\r\nKEYNOTIFY\r\n$3\r\nkey\r\n$4\r\nSTOP\r\n",
        ),
        // Binary-safe: CR, LF and NUL inside keys and values; empty values.
        (
            set(b"a\r\nb", b"\0\r\n", SetCondition::Always, None),
            b"*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$3\r\n\0\r\n\r\n",
        ),
        (
            set(b"k", b"", SetCondition::Always, None),
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
        ),
    ];
    for (request, bytes) in cases {
        assert_eq!(request.encode().as_ref(), bytes, "{request:?}");
        assert_eq!(
            Request::parse(&Bytes::copy_from_slice(bytes)),
            Ok(request.clone()),
            "{request:?}"
        );
    }
}

#[test]
fn responses_encode_and_parse_to_the_reference_bytes() {
    let cases: Vec<(Response, &[u8])> = vec![
        (Response::Ok, b"+OK\r\n"),
        (Response::Integer(-1), b":-1\r\n"),
        (Response::Integer(0), b":0\r\n"),
        (Response::Integer(1), b":1\r\n"),
        (Response::NotFound, b"$-1\r\n"),
        (Response::Value(b(b"1234")), b"$4\r\n1234\r\n"),
        (Response::Value(b(b"")), b"$0\r\n\r\n"),
        (Response::Value(b(b"a\r\nb")), b"$4\r\na\r\nb\r\n"),
        (
            Response::Error("missing timestamp".into()),
            b"-ERR missing timestamp\r\n",
        ),
        (Response::Error(String::new()), b"-ERR \r\n"),
    ];
    for (response, bytes) in cases {
        assert_eq!(response.encode().as_ref(), bytes, "{response:?}");
        assert_eq!(
            Response::parse(&Bytes::copy_from_slice(bytes)),
            Ok(response.clone())
        );
    }
    assert_eq!(
        Response::Error("two\r\nlines".into()).encode().as_ref(),
        b"-ERR two  lines\r\n"
    );
}

#[test]
fn notifications_encode_and_parse_to_the_reference_bytes() {
    let set = Notification::Set(b(b"abc"));
    let bytes: &[u8] = b"*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$3\r\nabc\r\n";
    assert_eq!(set.encode().as_ref(), bytes);
    assert_eq!(Notification::parse(&b(bytes)), Ok(set));
    let delete: &[u8] = b"*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n";
    assert_eq!(Notification::Delete.encode().as_ref(), delete);
    assert_eq!(Notification::parse(&b(delete)), Ok(Notification::Delete));
    for bad in [
        &b"*1\r\n$6\r\nNOTIFY\r\n"[..],
        b"*2\r\n$9\r\nNotNOTIFY\r\n$6\r\nDELETE\r\n",
        b"*2\r\n$6\r\nNOTIFY\r\n$7\r\nUNKNOWN\r\n",
        b"*3\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n$10\r\nExtraStuff\r\n",
        b"+OK\r\n",
    ] {
        assert!(Notification::parse(&b(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn malformed_responses_say_what_is_wrong() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "ends early"),
        (b"1", "unknown frame type"),
        (b"11\r\nhello world\r\n", "unknown frame type"),
        (b"$11hello world\r\n", "not an integer"),
        (b"$11\r\nhello world", "only 11 bytes follow"),
        (b"$not an integer\r\nhello world", "not an integer"),
        (
            b"$11\r\nthis string is longer than 11 characters\r\n",
            "not followed by",
        ),
        (b"$-2\r\n", "negative"),
        (b"ERR description\r\n", "unknown frame type"),
        (b"-ERR description", "does not end"),
        (b":", "does not end"),
        (b":1234", "does not end"),
        (b":12a\r\n", "not an integer"),
        (b":99999999999999999999\r\n", "not an integer"),
        (b"+OK\r\nextra", "5 bytes follow the frame"),
        (b"+PONG\r\n", "unexpected simple string"),
        (b"*1\r\n$1\r\nx\r\n", "not an array"),
    ];
    for (bytes, expected) in cases {
        let error = Response::parse(&Bytes::copy_from_slice(bytes)).expect_err("invalid");
        assert!(
            error.to_string().contains(expected),
            "{bytes:?}: {error} should say {expected:?}"
        );
    }
}

#[test]
fn malformed_requests_map_to_the_service_errors() {
    let syntax: &[&[u8]] = &[
        b"+OK\r\n",
        b"*0\r\n",
        b"*2\r\n:1\r\n$1\r\nk\r\n",
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nXX\r\n",
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n",
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n$2\r\n-5\r\n",
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$3\r\nNEX\r\n",
        b"*3\r\n$9\r\nKEYNOTIFY\r\n$1\r\nk\r\n$4\r\nSTAP\r\n",
        b"*1000000\r\n$3\r\nGET\r\n",
        b"*2\r\n$3\r\nGET\r\n$-1\r\n",
    ];
    for bytes in syntax {
        assert!(
            matches!(
                Request::parse(&Bytes::copy_from_slice(bytes)),
                Err(RequestError::Syntax(_))
            ),
            "{bytes:?}"
        );
    }
    assert_eq!(
        Request::parse(&b(b"*2\r\n$4\r\nPING\r\n$1\r\nk\r\n")),
        Err(RequestError::UnknownCommand("PING".into()))
    );
    for (bytes, verb) in [
        (&b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n"[..], "SET"),
        (b"*1\r\n$3\r\nGET\r\n", "GET"),
        (b"*3\r\n$3\r\nDEL\r\n$1\r\nk\r\n$1\r\nk\r\n", "DEL"),
        (b"*2\r\n$4\r\nVDEL\r\n$1\r\nk\r\n", "VDEL"),
    ] {
        assert_eq!(
            Request::parse(&Bytes::copy_from_slice(bytes)),
            Err(RequestError::WrongArity(verb))
        );
    }
    // Verbs and options in any case; options in any order.
    assert_eq!(
        Request::parse(&b(
            b"*6\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\npx\r\n$2\r\n10\r\n$3\r\nnex\r\n"
        )),
        Ok(set(b"k", b"v", SetCondition::NotExistsOrEqual, Some(10)))
    );
}

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

fn arb_request() -> impl Strategy<Value = Request> {
    let condition = prop_oneof![
        Just(SetCondition::Always),
        Just(SetCondition::NotExists),
        Just(SetCondition::NotExistsOrEqual)
    ];
    prop_oneof![
        (
            arb_bytes(),
            arb_bytes(),
            condition,
            proptest::option::of(1u64..)
        )
            .prop_map(|(key, value, condition, expires_ms)| Request::Set {
                key,
                value,
                condition,
                expires_ms
            }),
        arb_bytes().prop_map(|key| Request::Get { key }),
        arb_bytes().prop_map(|key| Request::Del { key }),
        (arb_bytes(), arb_bytes()).prop_map(|(key, value)| Request::VDel { key, value }),
        (arb_bytes(), any::<bool>()).prop_map(|(key, stop)| Request::KeyNotify { key, stop }),
    ]
}

fn arb_response() -> impl Strategy<Value = Response> {
    prop_oneof![
        Just(Response::Ok),
        Just(Response::NotFound),
        any::<i64>().prop_map(Response::Integer),
        arb_bytes().prop_map(Response::Value),
        "[ -~]{0,40}".prop_map(Response::Error),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in arb_request()) {
        prop_assert_eq!(Request::parse(&request.encode()), Ok(request));
    }

    #[test]
    fn responses_round_trip(response in arb_response()) {
        prop_assert_eq!(Response::parse(&response.encode()), Ok(response));
    }

    #[test]
    fn notifications_round_trip(value in arb_bytes(), delete in any::<bool>()) {
        let notification = if delete { Notification::Delete } else { Notification::Set(value) };
        prop_assert_eq!(Notification::parse(&notification.encode()), Ok(notification));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let bytes = Bytes::from(bytes);
        let _ = Request::parse(&bytes);
        let _ = Response::parse(&bytes);
        let _ = Notification::parse(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(request in arb_request(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = request.encode().to_vec();
        let at = at % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut % (bytes.len() + 1));
        let bytes = Bytes::from(bytes);
        let _ = Request::parse(&bytes);
        let _ = Response::parse(&bytes);
        let _ = Notification::parse(&bytes);
    }
}
