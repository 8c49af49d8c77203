//! The token life-cycle cases of `../shared/cases/tokens.md` (TK1–TK10), against
//! `TokenService` + `InMemoryRevocationStore` on a `FrozenClock`.

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use keycard_core::endpoints::{Endpoint, handle};
use keycard_core::{
    AuthError, Authenticators, ConfigError, FrozenClock, InMemoryUserStore, JwtAuthentication,
    RequestHead, RevocationStore, Settings, TokenError, TokenKind, TokenService, TokenState,
};
use serde_json::{Value, json};
use support::*;

fn rotating(clock: &FrozenClock) -> keycard_core::SettingsBuilder {
    contract(clock)
        .rotate_refresh_tokens(true)
        .blacklist_after_rotation(true)
}

fn jti(token: &str) -> String {
    payload(token)["jti"].as_str().expect("a jti").to_owned()
}

async fn state(svc: &Svc, token: &str) -> Option<TokenState> {
    svc.store
        .token_state(&jti(token))
        .await
        .expect("the in-memory store answers")
}

fn body(res: &keycard_core::endpoints::EndpointResponse) -> Value {
    serde_json::from_slice(&res.body).expect("a JSON body")
}

fn www(res: &keycard_core::endpoints::EndpointResponse) -> Option<String> {
    res.headers
        .iter()
        .find(|(k, _)| k == "www-authenticate")
        .map(|(_, v)| v.to_str().unwrap().to_owned())
}

/// Asserts an endpoint answer is the contract's 401 `token_not_valid` for `error`.
#[track_caller]
fn assert_endpoint_invalid(res: &keycard_core::endpoints::EndpointResponse, error: TokenError) {
    assert_eq!(
        res.status,
        401,
        "body: {}",
        String::from_utf8_lossy(&res.body)
    );
    assert_eq!(
        body(res),
        json!({"detail": error.description(), "code": "token_not_valid"})
    );
    assert_eq!(
        www(res).as_deref(),
        Some(
            format!(
                r#"Bearer realm="api", error="invalid_token", error_description="{}""#,
                error.description()
            )
            .as_str()
        )
    );
}

// ---------------------------------------------------------------------------------------- TK1

#[test]
fn tk1_rotation_spends_r1_and_records_r2_outstanding() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let r1 = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
        assert_eq!(state(&svc, &r1).await, Some(TokenState::Outstanding));

        let res = handle(
            &svc.tokens,
            Endpoint::Refresh,
            json!({"refresh": r1}).to_string().as_bytes(),
        )
        .await;
        assert_eq!(res.status, 200);
        let pair = body(&res);
        let keys: Vec<&String> = pair.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["access", "refresh"]);
        let r2 = pair["refresh"].as_str().unwrap().to_owned();
        assert_ne!(r1, r2);
        assert_eq!(state(&svc, &r1).await, Some(TokenState::Spent));
        assert_eq!(state(&svc, &r2).await, Some(TokenState::Outstanding));
        // One login, one session: the rotated token and its access token carry the same sid.
        assert_eq!(payload(&r1)["sid"], payload(&r2)["sid"]);
        assert_eq!(
            payload(pair["access"].as_str().unwrap())["sid"],
            payload(&r1)["sid"]
        );
        assert_eq!(payload(&r2)["token_type"], "refresh");
    });
}

#[test]
fn tk1_blacklisted_r2_cannot_refresh() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let r1 = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
        let r2 = refresh_of(&svc.tokens.refresh(&r1).await.unwrap());

        let res = handle(
            &svc.tokens,
            Endpoint::Blacklist,
            json!({"refresh": r2}).to_string().as_bytes(),
        )
        .await;
        assert_eq!((res.status.as_u16(), body(&res)), (200, json!({})));
        assert_eq!(state(&svc, &r2).await, Some(TokenState::Blacklisted));

        let res = handle(
            &svc.tokens,
            Endpoint::Refresh,
            json!({"refresh": r2}).to_string().as_bytes(),
        )
        .await;
        assert_endpoint_invalid(&res, TokenError::Blacklisted);
        assert_invalid(
            svc.tokens.refresh(&r2).await,
            TokenError::Blacklisted,
            r2.as_bytes(),
        );
    });
}

#[test]
fn tk1_reusing_spent_r1_fails_and_revokes_the_whole_session() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let other = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let p1 = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let r1 = refresh_of(&p1);
        let p2 = svc.tokens.refresh(&r1).await.unwrap();

        assert_invalid(
            svc.tokens.refresh(&r1).await,
            TokenError::Reused,
            r1.as_bytes(),
        );
        let r2 = refresh_of(&p2);
        assert_invalid(
            svc.tokens.refresh(&r2).await,
            TokenError::Blacklisted,
            r2.as_bytes(),
        );
        assert_invalid(
            svc.tokens.verify_access(&p2.access).await,
            TokenError::Blacklisted,
            p2.access.as_bytes(),
        );
        assert_invalid(
            svc.tokens.verify_access(&p1.access).await,
            TokenError::Blacklisted,
            p1.access.as_bytes(),
        );
        // Another session of the same user is untouched.
        svc.tokens.verify_access(&other.access).await.unwrap();
        svc.tokens.refresh(&refresh_of(&other)).await.unwrap();
    });
}

/// A refresh token minted elsewhere (simplejwt, sharing the secret) carries no session id.
fn sessionless_refresh(now: u64) -> String {
    let mut p = access_payload(now);
    p.insert("token_type".into(), "refresh".into());
    p.insert("exp".into(), (now + 86_400).into());
    p.insert("jti".into(), "5e55105e55105e55105e55105e55105e".into());
    token_with(p)
}

#[test]
fn tk1_reusing_a_sessionless_refresh_token_revokes_the_chain_it_started() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let r0 = sessionless_refresh(T0);
        let p1 = svc.tokens.refresh(&r0).await.unwrap();
        let p2 = svc.tokens.refresh(&refresh_of(&p1)).await.unwrap();
        // The chain keycard continues is one session, named after the token that started it.
        for t in [
            &p1.access,
            p1.refresh.as_ref().unwrap(),
            &p2.access,
            p2.refresh.as_ref().unwrap(),
        ] {
            assert_eq!(payload(t)["sid"], "5e55105e55105e55105e55105e55105e");
        }
        assert_invalid(
            svc.tokens.refresh(&r0).await,
            TokenError::Reused,
            r0.as_bytes(),
        );
        for a in [&p1.access, &p2.access] {
            assert_invalid(
                svc.tokens.verify_access(a).await,
                TokenError::Blacklisted,
                a.as_bytes(),
            );
        }
        let r2 = refresh_of(&p2);
        assert_invalid(
            svc.tokens.refresh(&r2).await,
            TokenError::Blacklisted,
            r2.as_bytes(),
        );
    });
}

#[test]
fn tk4_logout_with_a_sessionless_refresh_token_ends_the_access_tokens_minted_from_it() {
    block_on(async {
        for rotate in [false, true] {
            let clock = FrozenClock::new(T0);
            let svc = service(contract(&clock).rotate_refresh_tokens(rotate), &clock);
            let r0 = sessionless_refresh(T0);
            let a1 = svc.tokens.refresh(&r0).await.unwrap().access;
            svc.tokens.verify_access(&a1).await.unwrap();
            svc.tokens.blacklist(&r0).await.unwrap();
            assert_invalid(
                svc.tokens.verify_access(&a1).await,
                TokenError::Blacklisted,
                a1.as_bytes(),
            );
        }
    });
}

#[test]
fn tk1_rotation_with_no_store_is_refused_at_startup() {
    let clock = FrozenClock::new(T0);
    let settings = contract(&clock)
        .rotate_refresh_tokens(true)
        .build()
        .unwrap();
    let err = TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::MissingStore {
            feature: "rotate_refresh_tokens"
        }
    );
    assert!(
        err.to_string().contains("needs a revocation store"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------- TK2

#[test]
fn tk2_blacklist_after_rotation_with_no_store_is_a_startup_error() {
    let clock = FrozenClock::new(T0);
    let settings = rotating(&clock).build().unwrap();
    let err = TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MissingStore { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("revocation store") && msg.contains("InMemoryRevocationStore"),
        "{msg}"
    );
}

#[test]
fn tk2_blacklist_endpoint_with_no_store_is_a_startup_error() {
    let clock = FrozenClock::new(T0);
    let err = TokenService::builder(contract(&clock).build().unwrap())
        .users(InMemoryUserStore::new())
        .with_blacklist_endpoint(true)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::MissingStore {
            feature: "the blacklist endpoint"
        }
    );
    assert!(
        err.to_string()
            .contains("the blacklist endpoint needs a revocation store"),
        "{err}"
    );
}

#[test]
fn tk2_blacklist_after_rotation_without_rotation_is_a_startup_error() {
    let clock = FrozenClock::new(T0);
    let err = contract(&clock)
        .blacklist_after_rotation(true)
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::BlacklistWithoutRotation);
}

#[test]
fn tk2_blacklist_without_store_is_never_a_silent_no_op() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let users = InMemoryUserStore::new();
        users.insert(keycard_core::User::new("1", "alice"), "pw");
        let alice = users.get("1").unwrap();
        let tokens = TokenService::builder(contract(&clock).build().unwrap())
            .users(users)
            .build()
            .unwrap();
        let r = refresh_of(&tokens.obtain_for(&alice).await.unwrap());
        let err = tokens.blacklist(&r).await.unwrap_err();
        assert!(matches!(err, AuthError::Misconfigured { .. }), "{err:?}");
        assert_eq!(err.status(), 500);
        assert!(!String::from_utf8_lossy(&err.render().body).contains("RevocationStore"));
    });
}

// ---------------------------------------------------------------------------------------- TK3

#[test]
fn tk3_verify_blacklisted_refresh_is_refused_whatever_the_rotation_settings() {
    block_on(async {
        for (rotate, after) in [(false, false), (true, false), (true, true)] {
            let clock = FrozenClock::new(T0);
            let svc = service(
                contract(&clock)
                    .rotate_refresh_tokens(rotate)
                    .blacklist_after_rotation(after),
                &clock,
            );
            let r = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
            let res = handle(
                &svc.tokens,
                Endpoint::Verify,
                json!({"token": r}).to_string().as_bytes(),
            )
            .await;
            assert_eq!(
                (res.status.as_u16(), body(&res)),
                (200, json!({})),
                "rotate={rotate} after={after}"
            );

            let res = handle(
                &svc.tokens,
                Endpoint::Blacklist,
                json!({"refresh": r}).to_string().as_bytes(),
            )
            .await;
            assert_eq!(
                (res.status.as_u16(), body(&res)),
                (200, json!({})),
                "rotate={rotate} after={after}"
            );

            let res = handle(
                &svc.tokens,
                Endpoint::Verify,
                json!({"token": r}).to_string().as_bytes(),
            )
            .await;
            assert_endpoint_invalid(&res, TokenError::Blacklisted);
            assert_invalid(
                svc.tokens.verify(&r).await,
                TokenError::Blacklisted,
                r.as_bytes(),
            );
            // Blacklisting twice is refused too (nothing left to log out).
            assert_invalid(
                svc.tokens.blacklist(&r).await,
                TokenError::Blacklisted,
                r.as_bytes(),
            );
        }
    });
}

#[test]
fn tk3_blacklisted_sessionless_refresh_is_refused_by_jti() {
    // A refresh token from another issuer sharing the secret (simplejwt) has no session id:
    // the blacklist must then hold by jti alone.
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let mut p = access_payload(T0);
        p.insert("token_type".into(), "refresh".into());
        p.insert("exp".into(), (T0 + 86_400).into());
        let r = token_with(p);
        svc.tokens.verify(&r).await.unwrap();
        svc.tokens.blacklist(&r).await.unwrap();
        assert_eq!(state(&svc, &r).await, Some(TokenState::Blacklisted));
        assert_invalid(
            svc.tokens.verify(&r).await,
            TokenError::Blacklisted,
            r.as_bytes(),
        );
        assert_invalid(
            svc.tokens.refresh(&r).await,
            TokenError::Blacklisted,
            r.as_bytes(),
        );
    });
}

// ---------------------------------------------------------------------------------------- TK4

#[test]
fn tk4_logout_ends_the_sessions_access_tokens_at_once_and_spares_other_sessions() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let mine = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let rotated = svc.tokens.refresh(&refresh_of(&mine)).await.unwrap();
        let other = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        for a in [&mine.access, &rotated.access, &other.access] {
            svc.tokens.verify_access(a).await.unwrap();
        }

        svc.tokens.blacklist(&refresh_of(&rotated)).await.unwrap();

        for a in [&mine.access, &rotated.access] {
            assert_invalid(
                svc.tokens.verify_access(a).await,
                TokenError::Blacklisted,
                a.as_bytes(),
            );
        }
        let c = svc.tokens.verify_access(&other.access).await.unwrap();
        assert_eq!(c.user_id(), "1");
    });
}

#[test]
fn tk4_access_token_after_its_lifetime_is_expired() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        assert_eq!(payload(&a)["exp"], T0 + 300);
        clock.set(T0 + 299);
        svc.tokens.verify_access(&a).await.unwrap();
        clock.set(T0 + 300);
        let err = svc.tokens.verify_access(&a).await.unwrap_err();
        assert_invalid_err(&err, TokenError::Expired, a.as_bytes());
        assert_eq!(err.detail(), "Token is expired");
    });
}

// ---------------------------------------------------------------------------------------- TK5

fn verify_at(
    leeway: u64,
    payload: serde_json::Map<String, Value>,
) -> Result<keycard_core::token::Verified, TokenError> {
    let clock = FrozenClock::new(T0);
    let v = verifier(contract(&clock).leeway(Duration::from_secs(leeway)));
    v.verify(token_with(payload).as_bytes(), &[TokenKind::Access], false)
}

#[test]
fn tk5_iat_30s_ahead_with_leeway_0_is_refused() {
    let mut p = access_payload(T0);
    p.insert("iat".into(), (T0 + 30).into());
    let t = token_with(p.clone());
    assert_refused(verify_at(0, p), TokenError::IssuedInFuture, t.as_bytes());
}

#[test]
fn tk5_iat_30s_ahead_with_leeway_60_is_accepted() {
    let mut p = access_payload(T0);
    p.insert("iat".into(), (T0 + 30).into());
    let ok = verify_at(60, p).unwrap();
    assert_eq!(ok.claims.iat(), Some(T0 + 30));
}

#[test]
fn tk5_exp_equal_now_is_expired() {
    let mut p = access_payload(T0 - 300);
    p.insert("exp".into(), T0.into());
    let t = token_with(p.clone());
    assert_refused(verify_at(0, p), TokenError::Expired, t.as_bytes());
    assert_eq!(TokenError::Expired.description(), "Token is expired");
}

#[test]
fn tk5_exp_one_second_ahead_is_valid() {
    let mut p = access_payload(T0 - 300);
    p.insert("exp".into(), (T0 + 1).into());
    verify_at(0, p).unwrap();
}

#[test]
fn tk5_exp_5s_ago_with_leeway_10_is_accepted() {
    let mut p = access_payload(T0 - 300);
    p.insert("exp".into(), (T0 - 5).into());
    verify_at(10, p).unwrap();
}

#[test]
fn tk5_exp_equal_now_minus_leeway_is_expired() {
    let mut p = access_payload(T0 - 300);
    p.insert("exp".into(), (T0 - 10).into());
    let t = token_with(p.clone());
    assert_refused(verify_at(10, p), TokenError::Expired, t.as_bytes());
}

#[test]
fn tk5_nbf_ahead_is_refused_beyond_leeway_and_accepted_within() {
    let mut p = access_payload(T0);
    p.insert("nbf".into(), (T0 + 30).into());
    let t = token_with(p.clone());
    assert_refused(
        verify_at(0, p.clone()),
        TokenError::NotYetValid,
        t.as_bytes(),
    );
    verify_at(30, p).unwrap();
}

#[test]
fn tk5_leeway_is_a_duration_and_applies_to_the_service() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock).leeway(Duration::from_secs(10)), &clock);
        assert_eq!(svc.tokens.settings().leeway(), 10);
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        clock.set(T0 + 300 + 9);
        svc.tokens.verify_access(&a).await.unwrap();
        clock.set(T0 + 300 + 10);
        assert_invalid(
            svc.tokens.verify_access(&a).await,
            TokenError::Expired,
            a.as_bytes(),
        );
    });
}

// ---------------------------------------------------------------------------------------- TK6

#[test]
fn tk6_refresh_token_as_bearer_is_wrong_type() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let r = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
        let err = svc.tokens.verify_access(&r).await.unwrap_err();
        assert_invalid_err(&err, TokenError::WrongType, r.as_bytes());
        assert_eq!(err.detail(), "Token has wrong type");

        // The same through the authenticator chain of a protected route: 401 with the challenge.
        let chain = Authenticators::new().with(JwtAuthentication::new(svc.tokens.clone()));
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {r}").parse().unwrap(),
        );
        let head = RequestHead {
            method: "GET",
            path: "/api/me/",
            query: None,
            headers: &headers,
        };
        let err = chain.authenticate(&head).await.unwrap_err();
        assert_eq!(err.status(), 401);
        assert_invalid_err(&err, TokenError::WrongType, r.as_bytes());
    });
}

#[test]
fn tk6_access_token_at_refresh_is_wrong_type() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        assert_invalid(
            svc.tokens.refresh(&a).await,
            TokenError::WrongType,
            a.as_bytes(),
        );
        let res = handle(
            &svc.tokens,
            Endpoint::Refresh,
            json!({"refresh": a}).to_string().as_bytes(),
        )
        .await;
        assert_endpoint_invalid(&res, TokenError::WrongType);
        // An access token is not something to log out with either.
        assert_invalid(
            svc.tokens.blacklist(&a).await,
            TokenError::WrongType,
            a.as_bytes(),
        );
    });
}

#[test]
fn tk6_verify_accepts_either_type() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(rotating(&clock), &clock);
        let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let r = refresh_of(&pair);
        assert_eq!(
            svc.tokens.verify(&pair.access).await.unwrap().kind(),
            TokenKind::Access
        );
        assert_eq!(
            svc.tokens.verify(&r).await.unwrap().kind(),
            TokenKind::Refresh
        );
        for t in [&pair.access, &r] {
            let res = handle(
                &svc.tokens,
                Endpoint::Verify,
                json!({"token": t}).to_string().as_bytes(),
            )
            .await;
            assert_eq!((res.status.as_u16(), body(&res)), (200, json!({})));
        }
    });
}

#[test]
fn tk6_sliding_token_is_wrong_type_where_only_access_authenticates() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let s = svc.tokens.sliding_for(&svc.alice).await.unwrap().token;
        assert_invalid(
            svc.tokens.verify_access(&s).await,
            TokenError::WrongType,
            s.as_bytes(),
        );
        assert_invalid(
            svc.tokens.refresh(&s).await,
            TokenError::WrongType,
            s.as_bytes(),
        );
    });
}

// ---------------------------------------------------------------------------------------- TK7

fn sliding(clock: &FrozenClock) -> Svc {
    service(
        contract(clock).auth_token_kinds([TokenKind::Sliding]),
        clock,
    )
}

#[test]
fn tk7_obtain_sliding_returns_token_carrying_refresh_exp() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = sliding(&clock);
        let res = handle(
            &svc.tokens,
            Endpoint::ObtainSliding,
            json!({"username": "alice", "password": "alice-password"})
                .to_string()
                .as_bytes(),
        )
        .await;
        assert_eq!(res.status, 200);
        let b = body(&res);
        assert_eq!(b.as_object().unwrap().keys().collect::<Vec<_>>(), ["token"]);
        let t = b["token"].as_str().unwrap();
        let p = payload(t);
        assert_eq!(p["token_type"], "sliding");
        assert_eq!(p["exp"], T0 + 300);
        assert_eq!(p["refresh_exp"], T0 + 86_400);
        assert_eq!(p["user_id"], "1");
        let c = svc.tokens.verify_access(t).await.unwrap();
        assert_eq!(c.kind(), TokenKind::Sliding);
    });
}

#[test]
fn tk7_refresh_keeps_jti_and_refresh_exp_and_moves_exp() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = sliding(&clock);
        let s1 = svc.tokens.sliding_for(&svc.alice).await.unwrap().token;
        clock.set(T0 + 100);
        let s2 = svc.tokens.refresh_sliding(&s1).await.unwrap().token;
        let (p1, p2) = (payload(&s1), payload(&s2));
        assert_eq!(p2["jti"], p1["jti"]);
        assert_eq!(p2["refresh_exp"], p1["refresh_exp"]);
        assert_eq!(p2["sid"], p1["sid"]);
        assert_eq!(p2["exp"], T0 + 100 + 300);
        assert_eq!(p2["iat"], T0 + 100);
        assert_eq!(p2["token_type"], "sliding");
        svc.tokens.verify_access(&s2).await.unwrap();
    });
}

/// The choice TK7 asks for, documented by this test: a sliding token whose `exp` has passed
/// but whose `refresh_exp` has not CAN be refreshed (the sliding window simplejwt's
/// documentation describes; simplejwt's code refuses it). It no longer authenticates requests.
#[test]
fn tk7_expired_sliding_token_can_be_refreshed_until_refresh_exp() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = sliding(&clock);
        let s1 = svc.tokens.sliding_for(&svc.alice).await.unwrap().token;
        clock.set(T0 + 3_600);
        assert_invalid(
            svc.tokens.verify_access(&s1).await,
            TokenError::Expired,
            s1.as_bytes(),
        );
        let s2 = svc.tokens.refresh_sliding(&s1).await.unwrap().token;
        assert_eq!(payload(&s2)["exp"], T0 + 3_600 + 300);
        svc.tokens.verify_access(&s2).await.unwrap();
    });
}

#[test]
fn tk7_refresh_exp_passed_is_refused() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = sliding(&clock);
        let s = svc.tokens.sliding_for(&svc.alice).await.unwrap().token;
        clock.set(T0 + 86_400 - 1);
        let last = svc.tokens.refresh_sliding(&s).await.unwrap().token;
        // The new exp never outlives refresh_exp.
        assert_eq!(payload(&last)["exp"], T0 + 86_400);
        clock.set(T0 + 86_400);
        let err = svc.tokens.refresh_sliding(&s).await.unwrap_err();
        assert_invalid_err(&err, TokenError::RefreshExpired, s.as_bytes());
        assert_eq!(err.detail(), "Token 'refresh_exp' claim has expired");
        let res = handle(
            &svc.tokens,
            Endpoint::RefreshSliding,
            json!({"token": s}).to_string().as_bytes(),
        )
        .await;
        assert_endpoint_invalid(&res, TokenError::RefreshExpired);
    });
}

#[test]
fn tk7_blacklisted_sliding_token_cannot_be_refreshed() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = sliding(&clock);
        let s = svc.tokens.sliding_for(&svc.alice).await.unwrap().token;
        svc.tokens.blacklist(&s).await.unwrap();
        assert_invalid(
            svc.tokens.refresh_sliding(&s).await,
            TokenError::Blacklisted,
            s.as_bytes(),
        );
        assert_invalid(
            svc.tokens.verify_access(&s).await,
            TokenError::Blacklisted,
            s.as_bytes(),
        );
    });
}

// ---------------------------------------------------------------------------------------- TK8

#[test]
fn tk8_20kib_bearer_value_is_refused_without_decoding() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        assert_eq!(svc.tokens.settings().max_token_size(), 8 * 1024);
        // Characters no decoder would accept: the answer is "too large", so no decoding ran.
        let junk = "%".repeat(20 * 1024);
        assert_invalid(
            svc.tokens.verify_access(&junk).await,
            TokenError::TooLarge,
            junk.as_bytes(),
        );
        // A well-formed, correctly signed 20 KiB token is refused the same way.
        let mut p = access_payload(T0);
        p.insert("pad".into(), "x".repeat(15 * 1024).into());
        let big = token_with(p);
        assert!(big.len() > 20 * 1024);
        assert_invalid(
            svc.tokens.verify_access(&big).await,
            TokenError::TooLarge,
            big.as_bytes(),
        );
        assert_invalid(
            svc.tokens.verify(&big).await,
            TokenError::TooLarge,
            big.as_bytes(),
        );
        assert_invalid(
            svc.tokens.refresh(&big).await,
            TokenError::TooLarge,
            big.as_bytes(),
        );
    });
}

fn padded_service(clock: &FrozenClock, max: Option<usize>) -> Svc {
    let mut b = contract(clock);
    if let Some(m) = max {
        b = b.max_token_size(m);
    }
    service_with(b, clock, |t| {
        t.claims_hook(|_| {
            let mut m = serde_json::Map::new();
            m.insert("pad".into(), "p".repeat(4_900).into());
            m
        })
    })
}

#[test]
fn tk8_valid_7kib_token_is_accepted() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = padded_service(&clock, None);
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        assert!(
            (6 * 1024 + 512..=7 * 1024).contains(&a.len()),
            "access token is {} bytes",
            a.len()
        );
        svc.tokens.verify_access(&a).await.unwrap();
    });
}

#[test]
fn tk8_the_maximum_is_configurable() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = padded_service(&clock, Some(4 * 1024));
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        assert_invalid(
            svc.tokens.verify_access(&a).await,
            TokenError::TooLarge,
            a.as_bytes(),
        );
        // At the cap exactly is still accepted; one byte over is not.
        let exact = a.len();
        let svc = padded_service(&clock, Some(exact));
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        assert_eq!(a.len(), exact, "same claims, same length");
        svc.tokens.verify_access(&a).await.unwrap();
        let svc = padded_service(&clock, Some(exact - 1));
        let a = svc.tokens.obtain_for(&svc.alice).await.unwrap().access;
        assert_invalid(
            svc.tokens.verify_access(&a).await,
            TokenError::TooLarge,
            a.as_bytes(),
        );
    });
}

// ---------------------------------------------------------------------------------------- TK9

fn hooked(clock: &FrozenClock) -> Svc {
    service_with(rotating(clock), clock, |t| {
        t.claims_hook(|user| {
            let mut m = serde_json::Map::new();
            m.insert("name".into(), format!("{} example", user.username).into());
            m.insert("scope".into(), "articles:read articles:write".into());
            // The hook cannot take over the claims keycard owns.
            m.insert("user_id".into(), "2".into());
            m.insert("token_type".into(), "refresh".into());
            m.insert("sid".into(), "hijacked".into());
            m
        })
    })
}

#[test]
fn tk9_hook_claims_reach_every_access_token_including_after_rotation() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = hooked(&clock);
        let mut pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        for round in 0..3 {
            for t in [&pair.access, pair.refresh.as_ref().unwrap()] {
                let p = payload(t);
                assert_eq!(p["name"], "alice example", "round {round}");
                assert_eq!(p["scope"], "articles:read articles:write", "round {round}");
            }
            let c = svc.tokens.verify_access(&pair.access).await.unwrap();
            assert_eq!(c.scopes(), ["articles:read", "articles:write"]);
            assert_eq!(c.get("name"), Some(&json!("alice example")));
            clock.advance(10);
            pair = svc
                .tokens
                .refresh(pair.refresh.as_ref().unwrap())
                .await
                .unwrap();
        }
    });
}

#[test]
fn tk9_hook_cannot_override_reserved_claims() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = hooked(&clock);
        let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let (a, r) = (
            payload(&pair.access),
            payload(pair.refresh.as_ref().unwrap()),
        );
        assert_eq!(
            (a["user_id"].as_str(), a["token_type"].as_str()),
            (Some("1"), Some("access"))
        );
        assert_eq!(
            (r["user_id"].as_str(), r["token_type"].as_str()),
            (Some("1"), Some("refresh"))
        );
        assert_ne!(a["sid"], "hijacked");
        assert_eq!(a["sid"], r["sid"]);
    });
}

// --------------------------------------------------------------------------------------- TK10

#[test]
fn tk10_purge_removes_expired_spent_and_blacklisted_records_and_keeps_the_rest() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(
            rotating(&clock).refresh_lifetime(Duration::from_secs(1_000)),
            &clock,
        );
        // Session A at T0: R1 spent for R2 (both expire at T0+1000), R2 blacklisted.
        let r1 = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
        let r2 = refresh_of(&svc.tokens.refresh(&r1).await.unwrap());
        svc.tokens.blacklist(&r2).await.unwrap();
        // Session B at T0+500: R3 spent for R4 (both expire at T0+1500), R4 blacklisted.
        clock.set(T0 + 500);
        let r3 = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
        let r4 = refresh_of(&svc.tokens.refresh(&r3).await.unwrap());
        svc.tokens.blacklist(&r4).await.unwrap();
        // Session C at T0+500: outstanding.
        let r5 = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());

        clock.set(T0 + 1_001);
        let removed = svc.store.purge_expired(clock_now(&svc)).await.unwrap();
        assert_eq!(removed, 2, "R1 (spent) and R2 (blacklisted) expired");
        assert_eq!(state(&svc, &r1).await, None);
        assert_eq!(state(&svc, &r2).await, None);
        assert_eq!(state(&svc, &r3).await, Some(TokenState::Spent));
        assert_eq!(state(&svc, &r4).await, Some(TokenState::Blacklisted));
        assert_eq!(state(&svc, &r5).await, Some(TokenState::Outstanding));
        // The revoked sessions outlive their tokens: B's tokens stay dead.
        assert_invalid(
            svc.tokens.refresh(&r4).await,
            TokenError::Blacklisted,
            r4.as_bytes(),
        );

        clock.set(T0 + 1_501);
        svc.store.purge_expired(clock_now(&svc)).await.unwrap();
        for r in [&r3, &r4, &r5] {
            assert_eq!(state(&svc, r).await, None);
        }
    });
}

fn clock_now(svc: &Svc) -> u64 {
    use keycard_core::Clock;
    svc.clock.now()
}

#[test]
fn tk10_purge_keeps_a_spent_token_that_still_verifies_within_the_leeway() {
    // With a leeway, a token is still valid for `leeway` seconds after its `exp`: its spent
    // record must live as long, or reuse within that window mints a fresh pair.
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(
            rotating(&clock)
                .refresh_lifetime(Duration::from_secs(1_000))
                .leeway(Duration::from_secs(60)),
            &clock,
        );
        let r1 = refresh_of(&svc.tokens.obtain_for(&svc.alice).await.unwrap());
        svc.tokens.refresh(&r1).await.unwrap();
        clock.set(T0 + 1_000 + 30);
        svc.store.purge_expired(clock_now(&svc)).await.unwrap();
        assert_eq!(state(&svc, &r1).await, Some(TokenState::Spent));
        assert_invalid(
            svc.tokens.refresh(&r1).await,
            TokenError::Reused,
            r1.as_bytes(),
        );
    });
}

#[test]
fn tk10_purge_keeps_a_blacklisted_sessionless_sliding_token_until_its_refresh_exp() {
    // A sliding token can be refreshed after its `exp`, until `refresh_exp`: blacklisting it
    // must hold that long. Tokens minted elsewhere (simplejwt) carry no session id, so the
    // jti record is all there is.
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = sliding(&clock);
        let mut p = access_payload(T0);
        p.insert("token_type".into(), "sliding".into());
        p.insert("refresh_exp".into(), (T0 + 86_400).into());
        let s = token_with(p);
        svc.tokens.blacklist(&s).await.unwrap();
        clock.set(T0 + 3_600);
        svc.store.purge_expired(clock_now(&svc)).await.unwrap();
        assert_eq!(state(&svc, &s).await, Some(TokenState::Blacklisted));
        assert_invalid(
            svc.tokens.refresh_sliding(&s).await,
            TokenError::Blacklisted,
            s.as_bytes(),
        );
    });
}

#[test]
fn tk10_memory_stays_bounded_under_a_long_run_of_logins_and_logouts() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(
            rotating(&clock)
                .access_lifetime(Duration::from_secs(60))
                .refresh_lifetime(Duration::from_secs(60))
                .sliding_refresh_lifetime(Duration::from_secs(60)),
            &clock,
        );
        let mut peak = 0;
        for _ in 0..6_000 {
            let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
            svc.tokens.blacklist(&refresh_of(&pair)).await.unwrap();
            clock.advance(1);
            peak = peak.max(svc.store.len());
        }
        // Three writes a round, a purge every 1024 writes: about 340 rounds of records at
        // most, two records (jti, session) a round, plus the ~60 s that stay alive.
        assert!(peak < 1_000, "the store grew to {peak} records");
        assert!(svc.store.len() < 1_000);
    });
}

#[test]
fn tk_settings_accessors_reflect_the_builder() {
    let clock = FrozenClock::new(T0);
    let s: Settings = rotating(&clock).build().unwrap();
    assert!(s.rotate_refresh_tokens() && s.blacklist_after_rotation());
    assert_eq!(s.access_lifetime(), Duration::from_secs(300));
    assert_eq!(s.refresh_lifetime(), Duration::from_secs(86_400));
    assert_eq!(s.now(), T0);
    let _ = Arc::clone(s.clock());
}
