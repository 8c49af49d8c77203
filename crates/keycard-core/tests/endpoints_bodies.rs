//! `endpoints::handle`: request bodies validated DRF-style into exact 400 bodies, success
//! bodies, error answers, and `Cache-Control: no-store` on every answer (KX2).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use keycard_core::endpoints::{Endpoint, EndpointResponse, MAX_BODY, handle, too_large};
use keycard_core::{
    FrozenClock, InMemoryRevocationStore, InMemoryUserStore, Settings, TokenService, User,
};
use serde_json::{Value, json};

const NOW: u64 = 1_796_300_000;

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn service(rotate: bool, store: bool) -> TokenService {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    users.insert(User::new("3", "carol").active(false), "carol-password");
    let clock = Arc::new(FrozenClock::new(NOW));
    let settings = Settings::builder()
        .hmac_secret("contract-secret-0123456789abcdef0123456789abcdef")
        .issuer("keycard-contract")
        .audience("contract-api")
        .rotate_refresh_tokens(rotate)
        .blacklist_after_rotation(rotate)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut b = TokenService::builder(settings).users(users);
    if store {
        b = b.store(InMemoryRevocationStore::with_clock(clock));
    }
    b.build().unwrap()
}

fn contract() -> TokenService {
    service(true, true)
}

/// One call: every answer is JSON and carries exactly one `Cache-Control: no-store`.
fn call(tokens: &TokenService, ep: Endpoint, body: &[u8]) -> EndpointResponse {
    let res = block(handle(tokens, ep, body));
    check_headers(&res);
    res
}

#[track_caller]
fn check_headers(res: &EndpointResponse) {
    let get = |name: http::HeaderName| {
        res.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(get(http::header::CACHE_CONTROL), ["no-store"], "{res:?}");
    assert_eq!(
        get(http::header::CONTENT_TYPE),
        ["application/json"],
        "{res:?}"
    );
    // And the same after conversion to an http::Response.
    let r: http::Response<Vec<u8>> = res.clone().into_response();
    assert_eq!(
        r.headers()
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .count(),
        1
    );
    assert_eq!(r.headers()[http::header::CACHE_CONTROL], "no-store");
    assert_eq!(r.status(), res.status);
}

fn json_of(res: &EndpointResponse) -> Value {
    serde_json::from_slice(&res.body).unwrap()
}

fn www(res: &EndpointResponse) -> Option<&str> {
    res.headers
        .iter()
        .find(|(k, _)| k == http::header::WWW_AUTHENTICATE)
        .map(|(_, v)| v.to_str().unwrap())
}

const ALL: [(Endpoint, &[&str]); 6] = [
    (Endpoint::Obtain, &["username", "password"]),
    (Endpoint::Refresh, &["refresh"]),
    (Endpoint::Verify, &["token"]),
    (Endpoint::Blacklist, &["refresh"]),
    (Endpoint::ObtainSliding, &["username", "password"]),
    (Endpoint::RefreshSliding, &["token"]),
];

/// A body with every field of `fields` set to a placeholder, then `field` set to `value`
/// (or removed when `value` is `None`).
fn body_with(fields: &[&str], field: &str, value: Option<Value>) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    for f in fields {
        m.insert((*f).to_owned(), json!("placeholder"));
    }
    match value {
        Some(v) => m.insert(field.to_owned(), v),
        None => m.remove(field),
    };
    serde_json::to_vec(&m).unwrap()
}

// ---------------------------------------------------------------------------------------
// 400s: exact bodies

#[test]
fn missing_field_is_required() {
    let t = contract();
    for (ep, fields) in ALL {
        for f in fields {
            let res = call(&t, ep, &body_with(fields, f, None));
            assert_eq!(res.status, 400, "{ep:?} {f}");
            assert_eq!(
                res.body,
                format!(r#"{{"{f}":["This field is required."]}}"#).as_bytes(),
                "{ep:?}"
            );
            assert_eq!(www(&res), None);
        }
    }
}

#[test]
fn null_field_may_not_be_null() {
    let t = contract();
    for (ep, fields) in ALL {
        for f in fields {
            let res = call(&t, ep, &body_with(fields, f, Some(Value::Null)));
            assert_eq!(
                (res.status.as_u16(), json_of(&res)),
                (400, json!({*f: ["This field may not be null."]})),
                "{ep:?}"
            );
        }
    }
}

#[test]
fn blank_field_may_not_be_blank() {
    let t = contract();
    for (ep, fields) in ALL {
        for f in fields {
            let res = call(&t, ep, &body_with(fields, f, Some(json!(""))));
            assert_eq!(
                (res.status.as_u16(), json_of(&res)),
                (400, json!({*f: ["This field may not be blank."]})),
                "{ep:?}"
            );
        }
    }
}

#[test]
fn non_string_field_is_not_a_valid_string() {
    let t = contract();
    for (ep, fields) in ALL {
        for f in fields {
            for v in [
                json!(42),
                json!(1.5),
                json!(true),
                json!([]),
                json!(["x"]),
                json!({}),
                json!({"a": "b"}),
            ] {
                let res = call(&t, ep, &body_with(fields, f, Some(v.clone())));
                assert_eq!(
                    (res.status.as_u16(), json_of(&res)),
                    (400, json!({*f: ["Not a valid string."]})),
                    "{ep:?} {v}"
                );
            }
        }
    }
}

#[test]
fn every_bad_field_is_reported_at_once() {
    let t = contract();
    let res = call(&t, Endpoint::Obtain, b"{}");
    assert_eq!(res.status, 400);
    assert_eq!(
        res.body,
        br#"{"password":["This field is required."],"username":["This field is required."]}"#
    );
    let res = call(&t, Endpoint::Obtain, br#"{"username":null,"password":""}"#);
    assert_eq!(res.body, br#"{"password":["This field may not be blank."],"username":["This field may not be null."]}"#);
}

#[test]
fn not_json_is_a_parse_error() {
    let t = contract();
    for (ep, _) in ALL {
        for body in [
            &b""[..],
            b"not json",
            b"{",
            b"{\"refresh\":",
            b"\xff\xfe",
            b"{'username':'alice'}",
            b"{} {}",
        ] {
            let res = call(&t, ep, body);
            assert_eq!(res.status, 400, "{ep:?} {body:?}");
            assert_eq!(
                res.body, br#"{"detail":"JSON parse error.","code":"parse_error"}"#,
                "{ep:?} {body:?}"
            );
        }
    }
}

#[test]
fn json_that_is_not_an_object_is_refused() {
    let t = contract();
    for (ep, _) in ALL {
        for body in [
            &b"[]"[..],
            br#"[{"refresh":"x"}]"#,
            b"\"refresh\"",
            b"42",
            b"null",
            b"true",
        ] {
            let res = call(&t, ep, body);
            assert_eq!(res.status, 400, "{ep:?}");
            assert_eq!(
                res.body,
                br#"{"detail":"Invalid data. Expected a JSON object.","code":"parse_error"}"#,
                "{ep:?}"
            );
        }
    }
}

#[test]
fn too_large_is_400_with_no_store() {
    let res = too_large();
    check_headers(&res);
    assert_eq!(res.status, 400);
    assert_eq!(
        res.body,
        br#"{"detail":"Request body is too large.","code":"parse_error"}"#
    );
    assert_eq!(MAX_BODY, 16 * 1024);
}

// ---------------------------------------------------------------------------------------
// Success bodies

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn obtain(t: &TokenService) -> Value {
    let res = call(
        t,
        Endpoint::Obtain,
        br#"{"username":"alice","password":"alice-password"}"#,
    );
    assert_eq!(res.status, 200);
    json_of(&res)
}

#[test]
fn obtain_returns_access_and_refresh() {
    let t = contract();
    let pair = obtain(&t);
    assert_eq!(keys(&pair), ["access", "refresh"]);
    assert!(block(t.verify_access(pair["access"].as_str().unwrap())).is_ok());
}

#[test]
fn refresh_with_rotation_returns_both_without_only_access() {
    let t = contract();
    let pair = obtain(&t);
    let res = call(
        &t,
        Endpoint::Refresh,
        &serde_json::to_vec(&json!({"refresh": pair["refresh"]})).unwrap(),
    );
    assert_eq!(
        (res.status.as_u16(), keys(&json_of(&res))),
        (200, vec!["access", "refresh"])
    );

    let t = service(false, false);
    let pair = obtain(&t);
    let res = call(
        &t,
        Endpoint::Refresh,
        &serde_json::to_vec(&json!({"refresh": pair["refresh"]})).unwrap(),
    );
    assert_eq!(
        (res.status.as_u16(), keys(&json_of(&res))),
        (200, vec!["access"])
    );
}

#[test]
fn verify_and_blacklist_return_empty_objects() {
    let t = contract();
    let pair = obtain(&t);
    for token in [&pair["access"], &pair["refresh"]] {
        let res = call(
            &t,
            Endpoint::Verify,
            &serde_json::to_vec(&json!({"token": token})).unwrap(),
        );
        assert_eq!(
            (res.status.as_u16(), res.body.as_slice()),
            (200, &b"{}"[..])
        );
    }
    let res = call(
        &t,
        Endpoint::Blacklist,
        &serde_json::to_vec(&json!({"refresh": pair["refresh"]})).unwrap(),
    );
    assert_eq!(
        (res.status.as_u16(), res.body.as_slice()),
        (200, &b"{}"[..])
    );
}

#[test]
fn sliding_endpoints_return_a_token() {
    let t = service(false, true);
    let res = call(
        &t,
        Endpoint::ObtainSliding,
        br#"{"username":"alice","password":"alice-password"}"#,
    );
    let body = json_of(&res);
    assert_eq!((res.status.as_u16(), keys(&body)), (200, vec!["token"]));
    let res = call(
        &t,
        Endpoint::RefreshSliding,
        &serde_json::to_vec(&json!({"token": body["token"]})).unwrap(),
    );
    assert_eq!(
        (res.status.as_u16(), keys(&json_of(&res))),
        (200, vec!["token"])
    );
}

#[test]
fn extra_fields_are_ignored() {
    let t = contract();
    let res = call(
        &t,
        Endpoint::Obtain,
        br#"{"username":"alice","password":"alice-password","remember":true}"#,
    );
    assert_eq!(res.status, 200);
}

// ---------------------------------------------------------------------------------------
// Error answers

fn invalid(description: &str) -> String {
    format!(r#"Bearer realm="api", error="invalid_token", error_description="{description}""#)
}

#[test]
fn obtain_wrong_credentials_or_inactive_is_no_active_account() {
    let t = contract();
    for body in [
        &br#"{"username":"alice","password":"wrong"}"#[..],
        br#"{"username":"nobody","password":"alice-password"}"#,
        br#"{"username":"carol","password":"carol-password"}"#,
    ] {
        let res = call(&t, Endpoint::Obtain, body);
        assert_eq!(res.status, 401);
        assert_eq!(res.body, br#"{"detail":"No active account found with the given credentials","code":"no_active_account"}"#);
        assert_eq!(www(&res), None, "the contract sends no challenge here");
    }
}

#[test]
fn rejected_tokens_at_the_token_endpoints_are_401_token_not_valid() {
    let t = contract();
    let pair = obtain(&t);
    let body = |field: &str, v: &Value| serde_json::to_vec(&json!({field: v})).unwrap();

    // LX1: an access token at the refresh endpoint.
    let res = call(&t, Endpoint::Refresh, &body("refresh", &pair["access"]));
    assert_eq!(res.status, 401);
    assert_eq!(
        json_of(&res),
        json!({"detail": "Token has wrong type", "code": "token_not_valid"})
    );
    assert_eq!(www(&res), Some(invalid("Token has wrong type").as_str()));

    for (ep, field) in [
        (Endpoint::Refresh, "refresh"),
        (Endpoint::Verify, "token"),
        (Endpoint::Blacklist, "refresh"),
    ] {
        let res = call(&t, ep, &body(field, &json!("garbage")));
        assert_eq!(
            (res.status.as_u16(), json_of(&res)["code"].as_str()),
            (401, Some("token_not_valid")),
            "{ep:?}"
        );
        assert_eq!(
            www(&res),
            Some(invalid("Token is invalid").as_str()),
            "{ep:?}"
        );
    }

    // Rotation, then reuse of the spent token: 401, and the session is gone.
    let next = json_of(&call(
        &t,
        Endpoint::Refresh,
        &body("refresh", &pair["refresh"]),
    ));
    let res = call(&t, Endpoint::Refresh, &body("refresh", &pair["refresh"]));
    let reused = "Token has already been used; its session is revoked";
    assert_eq!(
        (res.status.as_u16(), json_of(&res)),
        (401, json!({"detail": reused, "code": "token_not_valid"}))
    );
    assert_eq!(www(&res), Some(invalid(reused).as_str()));
    let res = call(&t, Endpoint::Verify, &body("token", &next["access"]));
    assert_eq!(
        (res.status.as_u16(), json_of(&res)["detail"].as_str()),
        (401, Some("Token is blacklisted"))
    );
}

#[test]
fn blacklisted_token_is_401_at_refresh_verify_and_blacklist() {
    let t = contract();
    let pair = obtain(&t);
    let body = |field: &str| serde_json::to_vec(&json!({field: pair["refresh"]})).unwrap();
    assert_eq!(call(&t, Endpoint::Blacklist, &body("refresh")).status, 200);
    for (ep, field) in [
        (Endpoint::Refresh, "refresh"),
        (Endpoint::Verify, "token"),
        (Endpoint::Blacklist, "refresh"),
    ] {
        let res = call(&t, ep, &body(field));
        assert_eq!(res.status, 401, "{ep:?}");
        assert_eq!(
            json_of(&res),
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
            "{ep:?}"
        );
        assert_eq!(
            www(&res),
            Some(invalid("Token is blacklisted").as_str()),
            "{ep:?}"
        );
    }
    // The access token of the session is refused too (contract difference 5).
    let res = call(
        &t,
        Endpoint::Verify,
        &serde_json::to_vec(&json!({"token": pair["access"]})).unwrap(),
    );
    assert_eq!(res.status, 401);
}

#[test]
fn challenge_follows_the_configured_header_type_and_realm() {
    let users = InMemoryUserStore::new();
    let settings = Settings::builder()
        .hmac_secret([1u8; 32])
        .header_types(["JWT", "Bearer"])
        .realm("shop")
        .build()
        .unwrap();
    let t = TokenService::builder(settings)
        .users(users)
        .build()
        .unwrap();
    let res = call(&t, Endpoint::Verify, br#"{"token":"garbage"}"#);
    assert_eq!(
        www(&res),
        Some(r#"JWT realm="shop", error="invalid_token", error_description="Token is invalid""#)
    );
}

#[test]
fn blacklist_without_a_store_is_500_without_details() {
    let t = service(false, false);
    let pair = obtain(&t);
    let res = call(
        &t,
        Endpoint::Blacklist,
        &serde_json::to_vec(&json!({"refresh": pair["refresh"]})).unwrap(),
    );
    assert_eq!(res.status, 500);
    assert_eq!(
        res.body,
        br#"{"detail":"A server error occurred.","code":"server_error"}"#
    );
    assert_eq!(www(&res), None);
}

#[test]
fn error_bodies_never_echo_the_token() {
    let t = contract();
    let pair = obtain(&t);
    let access = pair["access"].as_str().unwrap();
    let tampered = format!("{}x", access);
    for (ep, field) in [
        (Endpoint::Refresh, "refresh"),
        (Endpoint::Verify, "token"),
        (Endpoint::Blacklist, "refresh"),
    ] {
        for v in [
            access,
            tampered.as_str(),
            "\"><script>",
            "a\r\nSet-Cookie: x=1",
        ] {
            let res = call(&t, ep, &serde_json::to_vec(&json!({field: v})).unwrap());
            let text = String::from_utf8(res.body.clone()).unwrap();
            let header = www(&res).unwrap_or_default();
            for part in v.split('.').filter(|p| p.len() > 8) {
                assert!(
                    !text.contains(part) && !header.contains(part),
                    "{ep:?}: {text} / {header}"
                );
            }
            assert!(
                !text.contains("<script")
                    && !header.contains("<script")
                    && !header.contains("Set-Cookie")
            );
        }
    }
}
