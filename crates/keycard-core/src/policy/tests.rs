//! Composition semantics: `&`, `|`, `!` at view and object level, and which denial survives.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::store::User;

/// A policy with fixed answers at both levels and its own message, counting nothing.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    view: bool,
    object: bool,
    name: &'static str,
}

fn fixed(view: bool, object: bool, name: &'static str) -> Fixed {
    Fixed { view, object, name }
}

impl Policy for Fixed {
    fn has_permission(&self, _: &PolicyContext<'_>) -> Result<(), Denial> {
        if self.view {
            Ok(())
        } else {
            Err(Denial::new(format!("{} view", self.name), self.name))
        }
    }
    fn has_object_permission(&self, _: &PolicyContext<'_>, _: &dyn Any) -> Result<(), Denial> {
        if self.object {
            Ok(())
        } else {
            Err(Denial::new(format!("{} object", self.name), self.name))
        }
    }
}

fn user() -> Identity {
    Identity::from_user(User::new("2", "bob"), "test")
}

fn admin() -> Identity {
    Identity::from_user(User::new("3", "root").admin(true), "test")
}

/// View check then object check, as `enforce_object` runs them.
fn object_check(p: &impl Policy, id: Option<&Identity>) -> Result<(), Denial> {
    let ctx = PolicyContext::new("GET", "/", id);
    p.has_permission(&ctx)
        .and_then(|()| p.has_object_permission(&ctx, &()))
}

fn bools() -> [(bool, bool); 4] {
    [(false, false), (false, true), (true, false), (true, true)]
}

#[test]
fn or_object_level_is_view_and_object_of_the_same_operand() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    for (av, ao) in bools() {
        for (bv, bo) in bools() {
            let p = Or(fixed(av, ao, "a"), fixed(bv, bo, "b"));
            let want = (av && ao) || (bv && bo);
            assert_eq!(
                p.has_object_permission(&ctx, &()).is_ok(),
                want,
                "a=({av},{ao}) b=({bv},{bo})"
            );
        }
    }
}

#[test]
fn or_object_level_never_lets_a_view_denial_through() {
    // A allows the view and denies the object; B denies the view and would allow the object.
    // `A.object ∨ B.object` would allow: the right answer is no.
    let id = user();
    let p = Or(fixed(true, false, "a"), fixed(false, true, "b"));
    let err = object_check(&p, Some(&id)).unwrap_err();
    assert_eq!(err.code, "a");
    assert_eq!(err.message, "a object");
}

#[test]
fn and_at_both_levels_needs_both_and_reports_the_first_denial() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    for (av, ao) in bools() {
        for (bv, bo) in bools() {
            let p = And(fixed(av, ao, "a"), fixed(bv, bo, "b"));
            assert_eq!(p.has_permission(&ctx).is_ok(), av && bv);
            assert_eq!(p.has_object_permission(&ctx, &()).is_ok(), ao && bo);
            if let Err(d) = p.has_permission(&ctx) {
                assert_eq!(d.code, if av { "b" } else { "a" });
            }
        }
    }
}

#[test]
fn or_both_failing_reports_the_first_operands_denial() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    let d = Or(fixed(false, true, "a"), fixed(false, true, "b"))
        .has_permission(&ctx)
        .unwrap_err();
    assert_eq!((d.message.as_ref(), d.code.as_ref()), ("a view", "a"));
}

#[test]
fn not_at_view_level_inverts() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    assert!(Not(fixed(false, true, "a")).has_permission(&ctx).is_ok());
    let d = Not(fixed(true, true, "a"))
        .has_permission(&ctx)
        .unwrap_err();
    // Not's own denial is the default one: the operand allowed, it has nothing to say.
    assert_eq!(d, Denial::default());
}

#[test]
fn not_at_object_level_is_not_of_the_object_check_alone() {
    // DRF's NOT: `not op1.has_object_permission(...)`; the operand's view answer is not consulted.
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    for (v, o) in bools() {
        let p = Not(fixed(v, o, "a"));
        assert_eq!(
            p.has_object_permission(&ctx, &()).is_ok(),
            !o,
            "view={v} object={o}"
        );
    }
}

#[test]
fn not_of_a_view_only_policy_denies_every_object() {
    // IsAdmin has no object check (allows every object), so `!IsAdmin` denies every object —
    // the documented consequence of DRF's semantics.
    let bob = user();
    let ctx = PolicyContext::new("GET", "/", Some(&bob));
    assert!(Not(IsAdmin).has_permission(&ctx).is_ok());
    assert_eq!(
        Not(IsAdmin).has_object_permission(&ctx, &()).unwrap_err(),
        Denial::default()
    );
    assert!(object_check(&(IsAuthenticated & !IsAdmin), Some(&bob)).is_err());
}

#[test]
fn not_of_an_object_only_policy_denies_every_request_at_view_level() {
    struct Doc {
        owner: &'static str,
    }
    let is_owner = object_policy(|ctx: &PolicyContext<'_>, d: &Doc| {
        ctx.identity.is_some_and(|i| i.user_id() == d.owner)
    });
    let bob = user();
    let ctx = PolicyContext::new("GET", "/", Some(&bob));
    assert!(Not(is_owner).has_permission(&ctx).is_err());
    // The object-level answer on its own is the inverse of the owner check.
    let other = Doc { owner: "1" };
    let own = Doc { owner: "2" };
    let not_owner = Not(object_policy(|ctx: &PolicyContext<'_>, d: &Doc| {
        ctx.identity.is_some_and(|i| i.user_id() == d.owner)
    }));
    assert!(not_owner.has_object_permission(&ctx, &other).is_ok());
    assert!(not_owner.has_object_permission(&ctx, &own).is_err());
}

#[test]
fn double_negation_is_the_policy_again_at_both_levels() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    for (v, o) in bools() {
        let p = Not(Not(fixed(v, o, "a")));
        assert_eq!(p.has_permission(&ctx).is_ok(), v);
        assert_eq!(p.has_object_permission(&ctx, &()).is_ok(), o);
    }
}

#[test]
fn with_message_replaces_message_and_code_and_keeps_the_scope() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    let d = HasScope::new("orders:write")
        .with_message("Needs orders:write.", "scope_missing")
        .has_permission(&ctx)
        .unwrap_err();
    assert_eq!(d.message, "Needs orders:write.");
    assert_eq!(d.code, "scope_missing");
    assert_eq!(d.scope.as_deref(), Some("orders:write"));
    // At object level too.
    let d = fixed(true, false, "a")
        .with_message("m", "c")
        .has_object_permission(&ctx, &())
        .unwrap_err();
    assert_eq!((d.message.as_ref(), d.code.as_ref()), ("m", "c"));
}

#[test]
fn with_message_on_a_composition_rewrites_whichever_operand_denied() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    let p = (IsAdmin | HasRole::new("editor")).with_message("Editors only.", "editors_only");
    let d = p.has_permission(&ctx).unwrap_err();
    assert_eq!(
        (d.message.as_ref(), d.code.as_ref()),
        ("Editors only.", "editors_only")
    );
    assert!(
        p.has_permission(&PolicyContext::new("GET", "/", Some(&admin())))
            .is_ok()
    );
}

#[test]
fn builtins_at_view_level() {
    let bob = user();
    let root = admin();
    let scoped = Identity::from_user(
        User::new("4", "s")
            .with_scopes(["a:b"])
            .with_roles(["editor"]),
        "test",
    );
    let cases: [(&dyn Policy, Option<&Identity>, &str, bool); 14] = [
        (&AllowAny, None, "POST", true),
        (&IsAuthenticated, None, "GET", false),
        (&IsAuthenticated, Some(&bob), "GET", true),
        (&IsAdmin, Some(&bob), "GET", false),
        (&IsAdmin, Some(&root), "GET", true),
        (&IsAdmin, None, "GET", false),
        (&IsAuthenticatedOrReadOnly, None, "GET", true),
        (&IsAuthenticatedOrReadOnly, None, "get", false),
        (&IsAuthenticatedOrReadOnly, None, "POST", false),
        (&IsAuthenticatedOrReadOnly, Some(&bob), "DELETE", true),
        (&HasScope(Cow::Borrowed("a:b")), Some(&scoped), "GET", true),
        (&HasScope(Cow::Borrowed("a")), Some(&scoped), "GET", false),
        (
            &HasRole(Cow::Borrowed("editor")),
            Some(&scoped),
            "GET",
            true,
        ),
        (&HasRole(Cow::Borrowed("editor")), Some(&bob), "GET", false),
    ];
    for (i, (p, id, method, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            p.has_permission(&PolicyContext::new(method, "/", id))
                .is_ok(),
            want,
            "case {i}"
        );
    }
}

#[test]
fn has_claim_without_a_token_denies() {
    let bob = user();
    let ctx = PolicyContext::new("GET", "/", Some(&bob));
    assert!(HasClaim::present("tenant").has_permission(&ctx).is_err());
    assert!(
        HasClaim::equals("tenant", "acme")
            .has_permission(&ctx)
            .is_err()
    );
}

#[test]
fn object_policy_denies_objects_of_another_type() {
    let p = object_policy(|_: &PolicyContext<'_>, _: &u32| true);
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    assert!(p.has_object_permission(&ctx, &7u32).is_ok());
    assert!(p.has_object_permission(&ctx, &"a string").is_err());
}

#[test]
fn boxed_and_shared_policies_delegate_both_levels() {
    let id = user();
    let ctx = PolicyContext::new("GET", "/", Some(&id));
    let boxed: Box<dyn Policy> = Box::new(fixed(true, false, "a"));
    let shared: std::sync::Arc<dyn Policy> = std::sync::Arc::new(fixed(true, false, "a"));
    assert!(boxed.has_permission(&ctx).is_ok() && boxed.has_object_permission(&ctx, &()).is_err());
    assert!(
        shared.has_permission(&ctx).is_ok() && shared.has_object_permission(&ctx, &()).is_err()
    );
}

#[test]
fn enforce_maps_denials_to_401_or_403() {
    let challenge = Challenge::bearer("api");
    let bob = user();
    let anon = PolicyContext::new("GET", "/", None);
    let authed = PolicyContext::new("GET", "/", Some(&bob));
    let e = enforce(&IsAdmin, &anon, Some(&challenge)).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (401, "not_authenticated"));
    let e = enforce(&IsAdmin, &anon, None).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (403, "not_authenticated"));
    let e = enforce(&IsAdmin, &authed, Some(&challenge)).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (403, "permission_denied"));
    assert!(e.www_authenticate().is_none());
    let e = enforce_object(&fixed(true, false, "a"), &authed, &(), Some(&challenge)).unwrap_err();
    assert_eq!(
        (e.status().as_u16(), e.code(), e.detail().as_ref()),
        (403, "a", "a object")
    );
}
