//! Selection of jsonwebtoken's crypto backend.
//!
//! jsonwebtoken 12 panics on the first signature operation when both of its backends
//! (`rust_crypto`, `aws_lc_rs`) are enabled, or neither — and Cargo's feature unification
//! turns one on behind an application's back easily (`--all-features` does it too). keycard
//! decides instead: with both on it installs the aws-lc-rs provider, deterministically,
//! before any key is used; with neither, the crate refuses to compile.

#[cfg(not(any(feature = "rust_crypto", feature = "aws_lc_rs")))]
compile_error!(
    "keycard needs a crypto backend: enable the `rust_crypto` (default) or `aws_lc_rs` feature \
     of keycard / keycard-core"
);

use std::sync::Once;

static INSTALL: Once = Once::new();

/// The backend keycard uses in this build: `"aws_lc_rs"` or `"rust_crypto"`.
pub const BACKEND: &str = if cfg!(feature = "aws_lc_rs") {
    "aws_lc_rs"
} else {
    "rust_crypto"
};

/// Makes sure jsonwebtoken has a process-wide crypto provider, installing keycard's choice
/// when the crate features leave it ambiguous. Called by every key constructor, so no
/// request can ever meet jsonwebtoken's "no provider" panic. Idempotent and cheap.
pub fn ensure_provider() {
    INSTALL.call_once(|| {
        use jsonwebtoken::crypto::CryptoProvider;
        if CryptoProvider::try_get_default().is_some() {
            return;
        }
        #[cfg(feature = "aws_lc_rs")]
        let provider: &'static CryptoProvider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
        #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
        let provider: &'static CryptoProvider =
            &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
        // Another thread (or the application) may have installed one meanwhile: that is fine.
        let _ = provider.install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_is_always_available_after_ensure() {
        ensure_provider();
        assert!(jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some());
    }
}
