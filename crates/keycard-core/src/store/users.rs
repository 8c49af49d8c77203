//! In-memory users (argon2 password hashes) and API keys (SHA-256 digests).

use std::collections::HashMap;
use std::future::ready;
use std::sync::{OnceLock, RwLock};

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ApiKeyStore, StoreError, User, UserStore};
use crate::BoxFuture;

/// A fingerprint of a stored password hash (not of the password): the first 16 bytes of its
/// SHA-256, hex. Tokens carry it when password-change revocation is on; a new password gives
/// a new hash, hence a new fingerprint, and the old tokens stop working.
pub fn password_fingerprint(stored_hash: &str) -> String {
    let digest = Sha256::digest(stored_hash.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

struct Entry {
    user: User,
    hash: String,
}

/// Users held in memory, passwords stored as argon2id hashes (never as text). For the example
/// apps, tests and small services.
///
/// ```
/// use keycard_core::{InMemoryUserStore, User, UserStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let users = InMemoryUserStore::new();
/// users.insert(User::new("1", "alice"), "alice-password");
/// assert!(users.check_password("alice", "alice-password").await.unwrap().is_some());
/// assert!(users.check_password("alice", "wrong").await.unwrap().is_none());
/// # });
/// ```
#[derive(Default)]
pub struct InMemoryUserStore {
    by_id: RwLock<HashMap<String, Entry>>,
}

impl std::fmt::Debug for InMemoryUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryUserStore")
            .field("users", &self.read().len())
            .finish_non_exhaustive()
    }
}

fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    // argon2 with default parameters cannot fail on a generated salt and any password length
    // we accept; fall back to an unusable hash rather than panicking if it ever does.
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|_| "!".to_owned())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A real hash to verify against when the username is unknown, so that both cases cost the
/// same and response times do not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("keycard-timing-equaliser"))
}

impl InMemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // See InMemoryRevocationStore: a poisoned lock still guards consistent data.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.by_id.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.by_id.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds (or replaces) a user with a password, hashed with argon2id.
    pub fn insert(&self, mut user: User, password: &str) {
        let hash = hash_password(password);
        user.password_fingerprint = Some(password_fingerprint(&hash));
        self.write().insert(user.id.clone(), Entry { user, hash });
    }

    /// Changes a user's password; `false` when the user does not exist.
    pub fn set_password(&self, id: &str, password: &str) -> bool {
        let hash = hash_password(password);
        match self.write().get_mut(id) {
            Some(e) => {
                e.user.password_fingerprint = Some(password_fingerprint(&hash));
                e.hash = hash;
                true
            }
            None => false,
        }
    }

    /// Marks a user active or inactive; `false` when the user does not exist.
    pub fn set_active(&self, id: &str, active: bool) -> bool {
        self.write()
            .get_mut(id)
            .map(|e| e.user.is_active = active)
            .is_some()
    }

    /// Removes a user; `false` when the user did not exist.
    pub fn remove(&self, id: &str) -> bool {
        self.write().remove(id).is_some()
    }

    /// A copy of the user with this id.
    pub fn get(&self, id: &str) -> Option<User> {
        self.read().get(id).map(|e| e.user.clone())
    }
}

impl UserStore for InMemoryUserStore {
    fn find_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(ready(Ok(self.get(id))))
    }

    fn check_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        let found = self
            .read()
            .values()
            .find(|e| e.user.username == username)
            .map(|e| (e.user.clone(), e.hash.clone()));
        let result = match found {
            Some((user, hash)) => verify_password(password, &hash).then_some(user),
            None => {
                let _ = verify_password(password, dummy_hash());
                None
            }
        };
        Box::pin(ready(Ok(result)))
    }
}

/// API keys held in memory as SHA-256 digests: a key is never stored, and the lookup compares
/// digests in constant time, so timing says nothing about the keys.
///
/// ```
/// use keycard_core::{ApiKeyStore, InMemoryApiKeyStore, User};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let keys = InMemoryApiKeyStore::new();
/// keys.insert("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", User::new("1", "alice"));
/// assert!(keys.find("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b").await.unwrap().is_some());
/// # });
/// ```
#[derive(Default)]
pub struct InMemoryApiKeyStore {
    keys: RwLock<Vec<([u8; 32], User)>>,
}

impl std::fmt::Debug for InMemoryApiKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InMemoryApiKeyStore { .. }")
    }
}

impl InMemoryApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key for a user.
    pub fn insert(&self, key: &str, user: User) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((Sha256::digest(key.as_bytes()).into(), user));
    }

    /// Removes a key; `false` when it was not there.
    pub fn remove(&self, key: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let before = keys.len();
        keys.retain(|(d, _)| !bool::from(d.ct_eq(&digest)));
        before != keys.len()
    }
}

impl ApiKeyStore for InMemoryApiKeyStore {
    fn find<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        // Visit every entry: the time taken does not depend on which one matches.
        let mut found = None;
        for (d, user) in keys.iter() {
            if bool::from(d.ct_eq(&digest)) {
                found = Some(user.clone());
            }
        }
        Box::pin(ready(Ok(found)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;

    #[test]
    fn passwords_are_stored_as_argon2_hashes() {
        let s = InMemoryUserStore::new();
        s.insert(User::new("1", "alice"), "alice-password");
        let hash = s.read().get("1").unwrap().hash.clone();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("alice-password"));
    }

    #[test]
    fn changing_the_password_changes_the_fingerprint() {
        let s = InMemoryUserStore::new();
        s.insert(User::new("1", "alice"), "one");
        let before = s.get("1").unwrap().password_fingerprint;
        assert!(s.set_password("1", "two"));
        assert_ne!(before, s.get("1").unwrap().password_fingerprint);
    }

    #[test]
    fn user_debug_redacts_the_password_fingerprint() {
        let s = InMemoryUserStore::new();
        s.insert(User::new("1", "alice"), "one");
        let user = s.get("1").unwrap();
        let fp = user.password_fingerprint.clone().unwrap();
        let shown = format!("{user:?}");
        assert!(!shown.contains(&fp), "{shown}");
        assert!(shown.contains("******"));
    }
}
