//! The behaviour every `RevocationStore` shares, as one suite run against the in-memory store
//! and the Redis store alike.

use keycard_core::{RevocationStore, SpendOutcome, TokenRecord, TokenState};

use super::now;

fn record(jti: &str, session: &str, expires_at: u64) -> TokenRecord {
    TokenRecord {
        jti: jti.to_owned(),
        session: session.to_owned(),
        user_id: "u1".to_owned(),
        expires_at,
    }
}

/// Runs every case on `store`. Ids carry a random tag, so the suite can run twice on one
/// store; expiries are an hour ahead (a record past its expiry may be forgotten at once).
pub async fn store_suite(store: &dyn RevocationStore) {
    let tag = format!("{:08x}", rand::random::<u32>());
    let id = |name: &str| format!("{name}-{tag}");
    let exp = now() + 3600;
    let until = now() + 7200;

    // An issued token is outstanding; recording it again changes nothing.
    let (j, s) = (id("issued"), id("issued-session"));
    assert_eq!(store.token_state(&j).await.unwrap(), None, "unknown token");
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Outstanding),
        "recorded token"
    );
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Outstanding),
        "recorded twice"
    );

    // First spend of a recorded token: spent; recording it again does not revive it.
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Spent,
        "first spend"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Spent),
        "spent token"
    );
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Spent),
        "re-recorded spent token"
    );
    assert!(
        !store.is_session_revoked(&s).await.unwrap(),
        "a spend revokes nothing"
    );

    // Reuse: the session is revoked, and every other token of it is refused.
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Reused,
        "second spend"
    );
    assert!(
        store.is_session_revoked(&s).await.unwrap(),
        "reuse revokes the session"
    );
    let sibling = id("sibling");
    store
        .record_issued(&record(&sibling, &s, exp))
        .await
        .unwrap();
    assert_eq!(
        store.spend(&sibling, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Revoked,
        "sibling after reuse"
    );
    assert_eq!(
        store.token_state(&sibling).await.unwrap(),
        Some(TokenState::Outstanding),
        "a refused spend spends nothing"
    );
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Revoked,
        "third spend"
    );

    // A token the store never saw can be spent once.
    let (j, s) = (id("unrecorded"), id("unrecorded-session"));
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Spent,
        "unrecorded spend"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Spent),
        "unrecorded, spent"
    );
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Reused,
        "unrecorded reuse"
    );
    assert!(
        store.is_session_revoked(&s).await.unwrap(),
        "unrecorded reuse revokes the session"
    );

    // Without a session, reuse is reported but revokes no session. (The token service records
    // such a token under the previous token's jti: the record's session is bookkeeping.)
    let (j, chained) = (id("sessionless"), id("previous-jti"));
    store
        .record_issued(&record(&j, &chained, exp))
        .await
        .unwrap();
    assert_eq!(
        store.spend(&j, None, exp, until).await.unwrap(),
        SpendOutcome::Spent,
        "sessionless spend"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Spent),
        "sessionless, spent"
    );
    assert_eq!(
        store.spend(&j, None, exp, until).await.unwrap(),
        SpendOutcome::Reused,
        "sessionless reuse"
    );
    assert!(
        !store.is_session_revoked(&chained).await.unwrap(),
        "sessionless reuse revokes nothing"
    );
    let bare = id("bare");
    assert_eq!(
        store.spend(&bare, None, exp, until).await.unwrap(),
        SpendOutcome::Spent,
        "bare spend"
    );
    assert_eq!(
        store.spend(&bare, None, exp, until).await.unwrap(),
        SpendOutcome::Reused,
        "bare reuse"
    );

    // Blacklisting: true the first time, false after; a blacklisted token cannot be spent and
    // spending it revokes nothing.
    let (j, s) = (id("listed"), id("listed-session"));
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    assert!(store.blacklist(&j, exp).await.unwrap(), "first blacklist");
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Blacklisted),
        "blacklisted token"
    );
    assert!(!store.blacklist(&j, exp).await.unwrap(), "second blacklist");
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Revoked,
        "spend of blacklisted"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Blacklisted),
        "still blacklisted"
    );
    assert!(
        !store.is_session_revoked(&s).await.unwrap(),
        "blacklisting one token leaves its session"
    );

    // A spent token can still be blacklisted (logout after rotation), once.
    let (j, s) = (id("spent-then-listed"), id("spent-then-listed-session"));
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    store.spend(&j, Some(&s), exp, until).await.unwrap();
    assert!(
        store.blacklist(&j, exp).await.unwrap(),
        "blacklist a spent token"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Blacklisted),
        "spent, then blacklisted"
    );
    assert!(
        !store.blacklist(&j, exp).await.unwrap(),
        "blacklist it again"
    );

    // A token blacklisted before the store ever recorded it is refused when spent with its
    // session, and the session stays as it was.
    let (j, s) = (id("listed-first"), id("listed-first-session"));
    assert!(
        store.blacklist(&j, exp).await.unwrap(),
        "blacklist an unknown token"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Blacklisted),
        "unknown, blacklisted"
    );
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Revoked,
        "spend it"
    );
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Blacklisted),
        "recording does not un-blacklist"
    );
    assert!(
        !store.is_session_revoked(&s).await.unwrap(),
        "its session untouched"
    );

    // Revoking a session: its tokens cannot be spent; other sessions are untouched; revoking
    // again (even with an earlier end) keeps it revoked.
    let (j, s, other) = (id("in-revoked"), id("revoked-session"), id("other-session"));
    store.record_issued(&record(&j, &s, exp)).await.unwrap();
    assert!(
        !store.is_session_revoked(&s).await.unwrap(),
        "not yet revoked"
    );
    store.revoke_session(&s, until).await.unwrap();
    assert!(store.is_session_revoked(&s).await.unwrap(), "revoked");
    assert!(
        !store.is_session_revoked(&other).await.unwrap(),
        "another session"
    );
    store.revoke_session(&s, now() + 600).await.unwrap();
    assert!(store.is_session_revoked(&s).await.unwrap(), "revoked twice");
    assert_eq!(
        store.spend(&j, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Revoked,
        "spend in revoked session"
    );
    assert_eq!(
        store.token_state(&j).await.unwrap(),
        Some(TokenState::Outstanding),
        "refused spend spends nothing"
    );
    let fresh = id("unknown-in-revoked");
    assert_eq!(
        store.spend(&fresh, Some(&s), exp, until).await.unwrap(),
        SpendOutcome::Revoked,
        "unknown token, revoked session"
    );

    // Ids are opaque text: braces, percent signs, colons, non-ASCII and the empty string.
    for (n, odd) in ["", "{", "}", "a{b}c", "%7B", "%00", "x:y:z", "é🔑", " "]
        .into_iter()
        .enumerate()
    {
        let j = format!("{odd}{tag}");
        let s = if n % 2 == 0 {
            odd.to_owned()
        } else {
            format!("{odd}-{tag}")
        };
        assert_eq!(
            store.spend(&j, Some(&s), exp, until).await.unwrap(),
            SpendOutcome::Spent,
            "odd id {odd:?}"
        );
        assert_eq!(
            store.token_state(&j).await.unwrap(),
            Some(TokenState::Spent),
            "odd id {odd:?}"
        );
        let other = format!("{odd}{tag}-other");
        store.revoke_session(&other, until).await.unwrap();
        assert!(
            store.is_session_revoked(&other).await.unwrap(),
            "odd session {other:?}"
        );
    }

    // Purging at the current time keeps every live record.
    store.purge_expired(now()).await.unwrap();
    assert_eq!(
        store.token_state(&id("issued")).await.unwrap(),
        Some(TokenState::Spent),
        "after purge"
    );
    assert!(
        store
            .is_session_revoked(&id("revoked-session"))
            .await
            .unwrap(),
        "after purge"
    );
}
