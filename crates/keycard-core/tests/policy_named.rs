//! `named_policy!` from outside the crate (the `$crate` paths), parameterised named policies,
//! composition at depth checked against a boolean reference, and `with_message`.

#![allow(clippy::unwrap_used)]

use keycard_core::policy::{Denial, object_policy, policy_fn};
use keycard_core::{
    AllowAny, AuthOutcome, Challenge, HasClaim, HasRole, HasScope, Identity, IsAdmin,
    IsAuthenticated, Policy, PolicyContext, PolicyExt, User, named_policy,
};

named_policy! {
    /// Editors: administrators, or callers with the `articles:write` scope.
    pub CanWriteArticles = IsAuthenticated & (IsAdmin | HasScope::new("articles:write"));
}

named_policy! {
    /// A parameterised policy as a type: "has scope `articles:write`".
    pub HasArticlesWrite = HasScope::new("articles:write");
}

named_policy! {
    /// Private, with a message override inside.
    AdminsOnly = IsAdmin.with_message("Administrators only.", "admin_only");
}

named_policy! {
    /// A claim with a value (built at each check: HasClaim::equals is not const).
    AcmeTenant = HasClaim::equals("tenant", "acme");
}

struct Article {
    owner: &'static str,
}

named_policy! {
    /// Object level through a named policy.
    OwnerOrAdmin = IsAdmin | object_policy(|ctx: &PolicyContext<'_>, a: &Article| ctx.identity.is_some_and(|i| i.user_id() == a.owner));
}

named_policy! {
    /// Six levels deep: Not, Or, And, closures and parameterised built-ins mixed.
    Deep = IsAuthenticated
        & (IsAdmin
            | (HasScope::new("a")
                & !(HasRole::new("banned")
                    | (HasScope::new("b")
                        & (policy_fn(|ctx| ctx.method == "GET") | !HasRole::new("reader"))))));
}

/// `Deep`, written out as booleans.
fn deep_reference(
    authed: bool,
    admin: bool,
    a: bool,
    banned: bool,
    b: bool,
    get: bool,
    reader: bool,
) -> bool {
    authed && (admin || (a && !(banned || (b && (get || !reader)))))
}

fn identity(admin: bool, scopes: &[&str], roles: &[&str]) -> Identity {
    Identity::from_user(
        User::new("1", "alice")
            .admin(admin)
            .with_scopes(scopes.iter().copied())
            .with_roles(roles.iter().copied()),
        "test",
    )
}

fn ctx<'a>(id: Option<&'a Identity>) -> PolicyContext<'a> {
    PolicyContext::new("POST", "/articles", id)
}

/// What an extractor like `Require<P>` needs of a named policy.
fn as_type<P: Policy + Default + Copy + Send + Sync + std::fmt::Debug + 'static>() -> P {
    P::default()
}

#[test]
fn named_policy_is_a_type_an_extractor_can_name() {
    let p: CanWriteArticles = as_type();
    let writer = identity(false, &["articles:write"], &[]);
    assert!(p.has_permission(&ctx(Some(&writer))).is_ok());
    assert!(p.has_permission(&ctx(None)).is_err());
    assert!(
        p.has_permission(&ctx(Some(&identity(true, &[], &[]))))
            .is_ok()
    );
    assert_eq!(format!("{p:?}"), "CanWriteArticles");
}

#[test]
fn parameterised_named_policy_keeps_scope_and_message() {
    let reader = identity(false, &["articles:read"], &[]);
    let d = HasArticlesWrite
        .has_permission(&ctx(Some(&reader)))
        .unwrap_err();
    assert_eq!(d.scope.as_deref(), Some("articles:write"));
    let o = AuthOutcome {
        identity: Some(reader),
        challenge: Some(Challenge::bearer("api")),
    };
    let e = o.enforce(&HasArticlesWrite, "POST", "/").unwrap_err();
    assert_eq!(
        e.www_authenticate().unwrap(),
        r#"Bearer realm="api", error="insufficient_scope", scope="articles:write""#
    );
}

#[test]
fn named_policies_compose_with_operators_and_methods() {
    let writer = identity(false, &["articles:write"], &[]);
    let admin = identity(true, &[], &[]);
    let c = ctx(Some(&writer));
    assert!(
        (CanWriteArticles & HasArticlesWrite)
            .has_permission(&c)
            .is_ok()
    );
    assert!((CanWriteArticles & AdminsOnly).has_permission(&c).is_err());
    assert!((AdminsOnly | HasArticlesWrite).has_permission(&c).is_ok());
    assert!((!HasArticlesWrite).has_permission(&c).is_err());
    assert!((!AdminsOnly).has_permission(&c).is_ok());
    assert!(
        HasArticlesWrite
            .and(IsAuthenticated)
            .or(IsAdmin)
            .has_permission(&c)
            .is_ok()
    );
    assert!(AdminsOnly.not().has_permission(&ctx(Some(&admin))).is_err());
    // A named policy inside another named policy's operand position.
    assert!(
        (IsAuthenticated & CanWriteArticles)
            .has_permission(&c)
            .is_ok()
    );
}

#[test]
fn with_message_inside_a_named_policy_survives_composition() {
    let bob = identity(false, &[], &[]);
    let o = AuthOutcome {
        identity: Some(bob),
        challenge: Some(Challenge::bearer("api")),
    };
    for p in [
        &AdminsOnly as &dyn Policy,
        &(IsAuthenticated & AdminsOnly),
        &(AdminsOnly | IsAdmin),
        &(AllowAny & (IsAuthenticated & AdminsOnly)),
    ] {
        let e = o.enforce(p, "GET", "/").unwrap_err();
        assert_eq!(
            e.render().body,
            br#"{"detail":"Administrators only.","code":"admin_only"}"#
        );
    }
    // with_message on a named policy from outside.
    let e = o
        .enforce(
            &CanWriteArticles.with_message("Editors only.", "editors_only"),
            "GET",
            "/",
        )
        .unwrap_err();
    assert_eq!(
        e.render().body,
        br#"{"detail":"Editors only.","code":"editors_only"}"#
    );
}

#[test]
fn named_policy_with_a_runtime_built_expression() {
    let tokens = keycard_core::TokenService::builder(
        keycard_core::Settings::builder()
            .hmac_secret([8u8; 32])
            .build()
            .unwrap(),
    )
    .users(keycard_core::InMemoryUserStore::new())
    .claims_hook(|_| {
        let mut m = serde_json::Map::new();
        m.insert("tenant".into(), "acme".into());
        m
    })
    .build()
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let claims = rt.block_on(async {
        let access = tokens
            .obtain_for(&User::new("1", "a"))
            .await
            .unwrap()
            .access;
        tokens.verify_access(&access).await.unwrap()
    });
    let id = Identity::from_token(User::new("1", "a"), claims, "jwt");
    assert!(AcmeTenant.has_permission(&ctx(Some(&id))).is_ok());
    assert!(
        AcmeTenant
            .has_permission(&ctx(Some(&identity(false, &[], &[]))))
            .is_err()
    );
}

#[test]
fn named_policy_at_object_level() {
    let mine = Article { owner: "1" };
    let theirs = Article { owner: "2" };
    let alice = identity(false, &[], &[]);
    let o = AuthOutcome {
        identity: Some(alice),
        challenge: Some(Challenge::bearer("api")),
    };
    assert!(o.enforce_object(&OwnerOrAdmin, "PUT", "/", &mine).is_ok());
    let e = o
        .enforce_object(&OwnerOrAdmin, "PUT", "/", &theirs)
        .unwrap_err();
    assert_eq!(e.status(), 403);
    let admin = AuthOutcome {
        identity: Some(identity(true, &[], &[])),
        challenge: None,
    };
    assert!(
        admin
            .enforce_object(&OwnerOrAdmin, "PUT", "/", &theirs)
            .is_ok()
    );
}

#[test]
fn six_levels_deep_matches_the_boolean_reference_exhaustively() {
    for bits in 0u32..128 {
        let bit = |i: u32| bits & (1 << i) != 0;
        let (authed, admin, a, banned, b, get, reader) =
            (bit(0), bit(1), bit(2), bit(3), bit(4), bit(5), bit(6));
        let mut scopes = vec![];
        if a {
            scopes.push("a");
        }
        if b {
            scopes.push("b");
        }
        let mut roles = vec![];
        if banned {
            roles.push("banned");
        }
        if reader {
            roles.push("reader");
        }
        let id = identity(admin, &scopes, &roles);
        let c = PolicyContext::new(if get { "GET" } else { "POST" }, "/", authed.then_some(&id));
        let want = deep_reference(authed, admin, a, banned, b, get, reader);
        assert_eq!(Deep.has_permission(&c).is_ok(), want, "bits {bits:07b}");
    }
}

#[test]
fn deep_denial_reports_the_deciding_operand() {
    // Not authenticated: the first operand's (IsAuthenticated's) default denial.
    assert_eq!(
        Deep.has_permission(&ctx(None)).unwrap_err(),
        Denial::default()
    );
    // Authenticated, not admin, no scope `a`: Or's first operand (IsAdmin) denial, default.
    let bob = identity(false, &[], &[]);
    assert_eq!(
        Deep.has_permission(&ctx(Some(&bob))).unwrap_err(),
        Denial::default()
    );
}

/// A deeper expression than anyone would write: 64 levels of alternating & and |, built
/// with the methods. It type-checks, and answers as a fold of the same booleans.
#[test]
fn very_deep_composition_compiles_and_answers() {
    macro_rules! nest {
        ($p:expr; $($op:ident $q:expr),*) => {{ let p = $p; $(let p = p.$op($q);)* p }};
    }
    let p = nest!(IsAuthenticated;
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin, and AllowAny, or IsAdmin,
        and HasScope::new("z"));
    assert!(
        p.has_permission(&ctx(Some(&identity(false, &["z"], &[]))))
            .is_ok()
    );
    assert!(
        p.has_permission(&ctx(Some(&identity(false, &[], &[]))))
            .is_err()
    );
    assert!(p.has_permission(&ctx(None)).is_err());
}
