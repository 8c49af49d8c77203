//! Chain and header cases (AU4, AU5, AU7, AU8, AU10, AU11, HX1–HX3).

use std::sync::Arc;

use super::*;
use crate::store::{InMemoryUserStore, User};
use crate::{Settings, TokenService};

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

fn users() -> Arc<InMemoryUserStore> {
    let u = InMemoryUserStore::new();
    u.insert(User::new("42", "user42"), "pw");
    Arc::new(u)
}

fn service(users: Arc<InMemoryUserStore>) -> TokenService {
    TokenService::builder(Settings::builder().hmac_secret([9u8; 32]).build().unwrap()).users_arc(users).build().unwrap()
}

fn head_with(headers: &http::HeaderMap) -> RequestHead<'_> {
    RequestHead { method: "GET", path: "/", query: None, headers }
}

fn auth_header(v: &[u8]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(http::header::AUTHORIZATION, http::HeaderValue::from_bytes(v).unwrap());
    h
}

#[test]
fn smoke_jwt_chain_accepts_minted_access_token() {
    block(async {
        let u = users();
        let tokens = service(u.clone());
        let pair = tokens.obtain_for(&u.get("42").unwrap()).await.unwrap();
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
        let h = auth_header(format!("Bearer {}", pair.access).as_bytes());
        let id = chain.authenticate(&head_with(&h)).await.unwrap().unwrap();
        assert_eq!(id.user_id(), "42");
        assert_eq!(id.authenticator(), "jwt");
    });
}
