//! Where the verifier's keys come from, and how they change without a restart.
//!
//! [`Settings`](crate::Settings) hold a [`KeySource`]: a fixed [`KeySet`], a [`KeyRotation`]
//! (local keys rotated at run time), or — with the `remote-keys` feature — a
//! [`RemoteKeys`](crate::token::RemoteKeys) (a JWKS URL or an OIDC issuer). Whatever the
//! source, a verification reads one immutable `KeySet`: sets are swapped whole, atomically
//! (`arc-swap`), so a reader never waits and never sees a half-updated set, and a change never
//! leaves a moment with no keys.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::{ArcSwap, Guard};

use super::TokenKind;
use super::keys::{Key, KeySet};
use super::verify::{Verified, Verifier};
use crate::error::AuthError;
#[cfg(feature = "remote-keys")]
use crate::error::TokenError;
use crate::settings::ConfigError;

/// The keys a [`Verifier`] and a [`TokenService`](crate::TokenService) use, read at every
/// verification. Cheap to clone (clones share the keys).
///
/// ```
/// use keycard_core::{Algorithm, Key, KeySet, token::KeySource};
/// let keys = KeySet::new(Key::hmac(Algorithm::HS256, &[1u8; 32]).unwrap()).unwrap();
/// let source = KeySource::fixed(keys);
/// assert_eq!(source.load().len(), 1);
/// ```
#[derive(Clone)]
pub struct KeySource {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Fixed(Arc<KeySet>),
    Rotating(Arc<Rotating>),
    #[cfg(feature = "remote-keys")]
    Remote(Arc<super::remote::Inner>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.repr {
            Repr::Fixed(_) => "fixed",
            Repr::Rotating(_) => "rotating",
            #[cfg(feature = "remote-keys")]
            Repr::Remote(_) => "remote",
        };
        f.debug_struct("KeySource")
            .field("kind", &kind)
            .field("keys", &self.load().len())
            .finish()
    }
}

impl From<KeySet> for KeySource {
    fn from(keys: KeySet) -> Self {
        Self::fixed(keys)
    }
}

impl From<KeyRotation> for KeySource {
    fn from(rotation: KeyRotation) -> Self {
        rotation.source()
    }
}

impl From<&KeyRotation> for KeySource {
    fn from(rotation: &KeyRotation) -> Self {
        rotation.source()
    }
}

/// The key set in use, borrowed for one verification (no lock is held: a swap meanwhile
/// leaves this set intact until it is dropped).
pub struct CurrentKeys<'a>(Current<'a>);

enum Current<'a> {
    Borrowed(&'a KeySet),
    Swapped(Guard<Arc<KeySet>>),
}

impl Deref for CurrentKeys<'_> {
    type Target = KeySet;
    fn deref(&self) -> &KeySet {
        match &self.0 {
            Current::Borrowed(k) => k,
            Current::Swapped(g) => g,
        }
    }
}

impl fmt::Debug for CurrentKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl KeySource {
    /// Keys that never change (the default: the settings' secret or keys).
    pub fn fixed(keys: KeySet) -> Self {
        Self {
            repr: Repr::Fixed(Arc::new(keys)),
        }
    }

    #[cfg(feature = "remote-keys")]
    pub(crate) fn remote(inner: Arc<super::remote::Inner>) -> Self {
        Self {
            repr: Repr::Remote(inner),
        }
    }

    /// The current key set, for one use: lock-free, and cheap enough for every request.
    pub fn load(&self) -> CurrentKeys<'_> {
        CurrentKeys(match &self.repr {
            Repr::Fixed(k) => Current::Borrowed(k),
            Repr::Rotating(r) => Current::Swapped(r.current.load()),
            #[cfg(feature = "remote-keys")]
            Repr::Remote(r) => Current::Swapped(r.current.load()),
        })
    }

    /// The current key set, to keep.
    pub fn current(&self) -> Arc<KeySet> {
        match &self.repr {
            Repr::Fixed(k) => k.clone(),
            Repr::Rotating(r) => r.current.load_full(),
            #[cfg(feature = "remote-keys")]
            Repr::Remote(r) => r.current.load_full(),
        }
    }

    /// Whether the keys come from another service (a JWKS URL or an OIDC issuer).
    pub fn is_remote(&self) -> bool {
        match &self.repr {
            #[cfg(feature = "remote-keys")]
            Repr::Remote(_) => true,
            _ => false,
        }
    }

    /// Drops the retired keys of a [`KeyRotation`] whose time has passed (nothing for other
    /// sources). Called before the keys are published.
    pub(crate) fn prune(&self, now: u64) {
        if let Repr::Rotating(r) = &self.repr {
            KeyRotation(r.clone()).prune(now);
        }
    }

    /// Verifies `token` with the current keys. A remote source is asked for keys first when it
    /// has none (503 when it cannot get any) and, when the token names a key it lacks, for one
    /// refetch (rate-limited by its cool-down), after which the token is verified once more.
    pub(crate) async fn verify(
        &self,
        verifier: &Verifier,
        token: &[u8],
        kinds: &[TokenKind],
        allow_expired: bool,
    ) -> Result<Verified, AuthError> {
        match &self.repr {
            #[cfg(feature = "remote-keys")]
            Repr::Remote(remote) => {
                remote.ready().await?;
                let seen = remote.generation();
                match verifier.verify(token, kinds, allow_expired) {
                    Err(TokenError::UnknownKey) if remote.after_unknown_key(seen).await => verifier
                        .verify(token, kinds, allow_expired)
                        .map_err(AuthError::invalid_token),
                    r => r.map_err(AuthError::invalid_token),
                }
            }
            _ => verifier
                .verify(token, kinds, allow_expired)
                .map_err(AuthError::invalid_token),
        }
    }
}

/// Local keys rotated at run time, without a restart: publish the next key, sign with it,
/// keep the retired one listed and accepted until the last token it signed has expired.
/// Cheap to clone; every clone and every [`KeySource`] made from it see the same keys.
///
/// ```
/// use keycard_core::{Key, KeySet, Settings, token::KeyRotation};
/// let rotation = KeyRotation::new(KeySet::new(Key::generate_ed25519()?.with_kid("k1"))?);
/// let settings = Settings::builder().key_source(&rotation).build()?;
///
/// // 1. Publish the next key (in the JWKS, accepted), at least one verifier cache TTL
/// //    before signing with it.
/// rotation.add_next(Key::generate_ed25519()?.with_kid("k2"))?;
/// // 2. Sign with it; keep the old key until the last token it signed has expired.
/// rotation.promote("k2")?;
/// rotation.retire_after("k1", settings.key_retirement_deadline())?;
/// assert_eq!(settings.keys().signing_key().and_then(|k| k.kid()), Some("k2"));
/// assert_eq!(settings.keys().len(), 2);
/// // 3. Later, the retired key goes.
/// rotation.prune(settings.key_retirement_deadline() + 1);
/// assert_eq!(settings.keys().len(), 1);
/// # Ok::<(), keycard_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeyRotation(Arc<Rotating>);

struct Rotating {
    current: ArcSwap<KeySet>,
    /// Retired keys by `kid`, with the time (seconds since the epoch) after which they go.
    /// The mutex also serialises writers, so that no change is lost.
    retired: Mutex<HashMap<String, u64>>,
}

impl fmt::Debug for KeyRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRotation")
            .field("keys", &self.0.current.load().len())
            .finish_non_exhaustive()
    }
}

impl KeyRotation {
    /// Rotation starting from `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self(Arc::new(Rotating {
            current: ArcSwap::from_pointee(keys),
            retired: Mutex::new(HashMap::new()),
        }))
    }

    /// A source reading these keys, for [`SettingsBuilder::key_source`](crate::SettingsBuilder::key_source).
    pub fn source(&self) -> KeySource {
        KeySource {
            repr: Repr::Rotating(self.0.clone()),
        }
    }

    /// The current key set.
    pub fn current(&self) -> Arc<KeySet> {
        self.0.current.load_full()
    }

    fn change(
        &self,
        f: impl FnOnce(KeySet, &mut HashMap<String, u64>) -> Result<KeySet, ConfigError>,
    ) -> Result<(), ConfigError> {
        let mut retired = lock(&self.0.retired);
        let next = f((**self.0.current.load()).clone(), &mut retired)?;
        self.0.current.store(Arc::new(next));
        Ok(())
    }

    /// Adds the next key: listed in the JWKS and accepted at once, not yet signing. It needs a
    /// `kid` of its own.
    pub fn add_next(&self, key: Key) -> Result<(), ConfigError> {
        if key.kid().is_none() {
            return Err(ConfigError::Invalid {
                name: "kid",
                problem: "a key added by rotation needs a kid, so tokens can name it",
            });
        }
        self.change(|set, _| set.with_verifier(key))
    }

    /// Signs new tokens with the key named `kid` (added before with [`add_next`](Self::add_next)).
    /// The previous signing key stays listed and accepted: retire it with
    /// [`retire_after`](Self::retire_after).
    pub fn promote(&self, kid: &str) -> Result<(), ConfigError> {
        self.change(|set, retired| {
            let set = set.with_signing(kid)?;
            retired.remove(kid);
            Ok(set)
        })
    }

    /// Keeps the key named `kid` listed and accepted until `until` (seconds since the epoch;
    /// [`Settings::key_retirement_deadline`](crate::Settings::key_retirement_deadline) is the
    /// moment its last token expires), then [`prune`](Self::prune) drops it.
    pub fn retire_after(&self, kid: &str, until: u64) -> Result<(), ConfigError> {
        self.change(|set, retired| {
            if set.get(kid).is_none() {
                return Err(ConfigError::UnknownKid);
            }
            if set.signing_key().and_then(Key::kid) == Some(kid) {
                return Err(ConfigError::RemoveSigningKey);
            }
            retired.insert(kid.to_owned(), until);
            Ok(set)
        })
    }

    /// Removes the key named `kid` at once: its tokens stop verifying (a compromised key).
    pub fn remove(&self, kid: &str) -> Result<(), ConfigError> {
        self.change(|set, retired| {
            let set = set.without(kid)?;
            retired.remove(kid);
            Ok(set)
        })
    }

    /// Drops every retired key whose time is before `now`; returns how many went. The JWKS
    /// handlers call it before publishing; a retired key kept a little longer only verifies
    /// tokens that have expired anyway.
    pub fn prune(&self, now: u64) -> usize {
        let mut retired = lock(&self.0.retired);
        let due: Vec<String> = retired
            .iter()
            .filter(|(_, until)| **until < now)
            .map(|(kid, _)| kid.clone())
            .collect();
        if due.is_empty() {
            return 0;
        }
        let mut set = (**self.0.current.load()).clone();
        for kid in &due {
            retired.remove(kid);
            // A retired key is never the signing key (`retire_after`, `promote`).
            if let Ok(next) = set.clone().without(kid) {
                set = next;
            }
        }
        self.0.current.store(Arc::new(set));
        due.len()
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here either completes its change or makes none).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;
    use crate::token::Algorithm;

    fn ed(kid: &str) -> Key {
        Key::generate_ed25519().unwrap().with_kid(kid)
    }

    #[test]
    fn rotation_publishes_promotes_retires_and_prunes() {
        let rotation = KeyRotation::new(KeySet::new(ed("a")).unwrap());
        let source = rotation.source();
        rotation.add_next(ed("b")).unwrap();
        assert_eq!(source.load().signing_key().and_then(Key::kid), Some("a"));
        assert_eq!(source.load().public_jwks().keys.len(), 2);
        rotation.promote("b").unwrap();
        assert_eq!(source.load().signing_key().and_then(Key::kid), Some("b"));
        assert_eq!(
            rotation.retire_after("b", 10).unwrap_err(),
            ConfigError::RemoveSigningKey
        );
        rotation.retire_after("a", 100).unwrap();
        assert_eq!(rotation.prune(100), 0);
        assert!(source.load().select(Algorithm::EdDSA, Some("a")).is_some());
        assert_eq!(rotation.prune(101), 1);
        assert!(source.load().select(Algorithm::EdDSA, Some("a")).is_none());
        assert_eq!(source.load().len(), 1);
    }

    #[test]
    fn rotation_refuses_what_would_break_the_set() {
        let rotation = KeyRotation::new(KeySet::new(ed("a")).unwrap());
        assert!(rotation.add_next(Key::generate_ed25519().unwrap()).is_err());
        assert_eq!(
            rotation.add_next(ed("a")).unwrap_err(),
            ConfigError::DuplicateKid
        );
        assert_eq!(rotation.promote("zz").unwrap_err(), ConfigError::UnknownKid);
        assert_eq!(
            rotation.remove("a").unwrap_err(),
            ConfigError::RemoveSigningKey
        );
        let public =
            Key::public_jwk(Algorithm::EdDSA, &ed("v").public_jwk_value().unwrap()).unwrap();
        rotation.add_next(public).unwrap();
        assert_eq!(
            rotation.promote("v").unwrap_err(),
            ConfigError::NoSigningKey
        );
        rotation.remove("v").unwrap();
        assert_eq!(rotation.current().len(), 1);
    }

    #[test]
    fn settings_take_a_key_source_or_keys_not_both() {
        let rotation = KeyRotation::new(KeySet::new(ed("a")).unwrap());
        let both = crate::Settings::builder()
            .key_source(&rotation)
            .hmac_secret([1u8; 32])
            .build();
        assert!(matches!(
            both,
            Err(ConfigError::Invalid { name: "keys", .. })
        ));
        let settings = crate::Settings::builder()
            .key_source(&rotation)
            .build()
            .unwrap();
        rotation.add_next(ed("b")).unwrap();
        assert_eq!(settings.keys().len(), 2, "the settings see the rotation");
        let verify_only = KeySource::fixed(KeySet::verify_only([]).unwrap());
        assert!(
            crate::Settings::builder()
                .key_source(verify_only)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn a_loaded_set_outlives_a_swap() {
        let rotation = KeyRotation::new(KeySet::new(ed("a")).unwrap());
        let source = rotation.source();
        let before = source.load();
        rotation.add_next(ed("b")).unwrap();
        assert_eq!(before.len(), 1);
        assert_eq!(source.load().len(), 2);
    }
}
