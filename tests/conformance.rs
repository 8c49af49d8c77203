//! One conformance suite for both adapters (issue 5, "One conformance suite").
//!
//! Every case of `tests/conformance/cases.json` is a request (or a sequence of requests
//! sharing state), sent in-process to the two contract apps — `examples/axum_app.rs` through
//! `tower::ServiceExt::oneshot` on its `Router`, `examples/actix_app.rs` through
//! `actix_web::test::init_service` on its `App` — built by the examples' own `app()`
//! functions. For every request the two answers must be equal to each other (status, every
//! header but the transport's, body bytes) and to the case's expectation.
//!
//! The case file says what a case sends and expects, and why (`refs`: the check.py case, the
//! `../shared/cases/` id). Its `doc` field describes the format; in short:
//!
//! - Tokens are symbolic: `{alice.access}` is alice's access token *of the app being asked*
//!   (each app has its own users and revocation store, so each logs its own users in during
//!   `setup`), `{name}` is a token minted by hand from the file's `tokens` table (the same
//!   bytes for both apps), `{now+300}` is a NumericDate. A sequence's `save` adds symbols.
//! - Headers the harness holds every answer to unless the case says otherwise:
//!   `Content-Type: application/json`; no `WWW-Authenticate`; no `Allow`; `Cache-Control:
//!   no-store` on the token endpoints' own answers and on nothing else.
//! - A token sent in a request never comes back in the answer (DESIGN: error bodies never
//!   echo whole tokens).
//!
//! Two differences are the transport's, not the apps', and are levelled before comparing:
//! `Content-Length` (axum's router sets it in-process, actix-web's HTTP/1 encoder on the
//! wire; the harness checks it against the body where present) and HEAD bodies (hyper's and
//! actix-http's encoders never send one; in-process, axum's router empties some of them and
//! actix-web none).
//!
//! `CONFORMANCE_SHOW=1 cargo test --test conformance -- --nocapture` prints every answer.

#![allow(clippy::unwrap_used)]
// Both examples include examples/common/contract.rs: each app builds its own contract.
#![allow(clippy::duplicate_mod)]

// The examples' routes; their `main`s and start-up helpers are unused here.
#[allow(dead_code, unreachable_pub)]
#[path = "../examples/axum_app.rs"]
mod axum_app;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/actix_app.rs"]
mod actix_app;

#[path = "conformance/jwt.rs"]
mod jwt;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::dev::{Service, ServiceResponse};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

/// The suite: requests, expectations, hand-minted tokens.
const CASES: &str = include_str!("conformance/cases.json");

/// The contract's issuer and audience (CONTRACT.md), for hand-minted tokens.
const ISS: &str = "keycard-contract";
const AUD: &str = "contract-api";

/// Headers that belong to the transport, not to the app: never compared between adapters.
const TRANSPORT_HEADERS: [&str; 2] = ["content-length", "date"];

// ------------------------------------------------------------------------------------------
// Requests and answers

/// A request with every symbol resolved.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    /// Send `Content-Length` with the body, as every real client does unless it streams.
    content_length: bool,
}

/// What an app answered: status, headers (names lower-case, in order), body.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn header_str(&self, name: &str) -> Option<String> {
        self.header(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The answer as the server's HTTP/1 encoder puts it on the wire: no body in answer to
    /// HEAD (hyper's `can_have_body`, actix-http's encoder). In-process, axum's router empties
    /// only what its method routers answer, and actix-web nothing.
    fn into_sent(mut self, req: &Req) -> Self {
        if req.method == "HEAD" {
            self.body.clear();
        }
        self
    }

    fn show(&self) -> String {
        let mut s = format!("{}", self.status);
        for (n, v) in &self.headers {
            let _ = write!(s, "\n    {n}: {}", String::from_utf8_lossy(v));
        }
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(400).collect();
        let _ = write!(s, "\n    body: {body}");
        s
    }
}

/// Sends `req` to the axum app, as hyper would hand it over.
async fn call_axum(app: &axum::Router, req: &Req) -> Answer {
    use axum::http::{HeaderValue, Request};
    let mut builder = Request::builder()
        .method(req.method.as_str())
        .uri(req.path.as_str());
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), HeaderValue::from_bytes(value).unwrap());
    }
    let body = req.body.clone().unwrap_or_default();
    if req.body.is_some() && req.content_length {
        builder = builder.header("content-length", body.len());
    }
    let res = app
        .clone()
        .oneshot(builder.body(axum::body::Body::from(body)).unwrap())
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = res.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Answer {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_vec(),
    }
    .into_sent(req)
}

/// Sends `req` to the actix app, as actix-web's HTTP/1 dispatcher would hand it over.
/// `finish` turns the test request into the service's request type (actix-http's, which
/// actix-web does not re-export, so only a closure at the call site can name its methods):
/// `TestRequest::to_request`, without `Content-Length` when the flag says so.
async fn call_actix<S, R, B>(
    app: &S,
    req: &Req,
    finish: impl FnOnce(actix_web::test::TestRequest, bool) -> R,
) -> Answer
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    use actix_web::http::Method;
    use actix_web::http::header::HeaderValue;
    let mut test = actix_web::test::TestRequest::default()
        .method(Method::from_bytes(req.method.as_bytes()).unwrap())
        .uri(req.path.as_str());
    for (name, value) in &req.headers {
        test = test.append_header((name.as_str(), HeaderValue::from_bytes(value).unwrap()));
    }
    if let Some(body) = &req.body {
        // Sets Content-Length too.
        test = test.set_payload(body.clone());
    }
    let request = finish(test, req.content_length);
    // The dispatcher turns an `Err` into its response; so does the harness.
    let (status, headers, body) = match app.call(request).await {
        Ok(res) => {
            let (status, headers) = (res.status(), res.headers().clone());
            let body = actix_web::body::to_bytes(res.into_body())
                .await
                .unwrap_or_default();
            (status, headers, body)
        }
        Err(err) => {
            let res = err.error_response();
            let (status, headers) = (res.status(), res.headers().clone());
            let body = actix_web::body::to_bytes(res.into_body())
                .await
                .unwrap_or_default();
            (status, headers, body)
        }
    };
    let mut headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    // actix-web's header map iterates in no stable order; axum's keeps insertion order per
    // name. The comparison is by name, so order both by name (values of one name keep theirs).
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    Answer {
        status: status.as_u16(),
        headers,
        body: body.to_vec(),
    }
    .into_sent(req)
}

// ------------------------------------------------------------------------------------------
// Symbols

/// Seconds since the epoch.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `now+300`, `now-10`, `now+0.5` → the NumericDate (an integer, or a float when written
/// with a fraction).
fn now_expr(name: &str, now: i64) -> Option<Value> {
    let rest = name.strip_prefix("now")?;
    if rest.is_empty() {
        return Some(json!(now));
    }
    let (sign, n) = match rest.as_bytes()[0] {
        b'+' => (1.0, &rest[1..]),
        b'-' => (-1.0, &rest[1..]),
        _ => return None,
    };
    if n.contains(['.', 'e']) {
        let n: f64 = n.parse().ok()?;
        Some(json!(now as f64 + sign * n))
    } else {
        let n: i64 = n.parse().ok()?;
        Some(json!(now + sign as i64 * n))
    }
}

/// Replaces every `{name}` in `text`: a NumericDate expression or a known symbol. A `{`
/// not followed by a name and `}` is text (JSON bodies are full of them); an unknown name is
/// an error in the case file.
fn resolve(text: &str, syms: &HashMap<String, String>, now: i64) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_.+-".contains(c)))
            .unwrap_or(after.len());
        if len > 0 && after[len..].starts_with('}') {
            let name = &after[..len];
            if let Some(v) = now_expr(name, now) {
                out.push_str(&v.to_string());
            } else if let Some(v) = syms.get(name) {
                out.push_str(v);
            } else {
                return Err(format!("unknown symbol {{{name}}}"));
            }
            rest = &after[len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Resolves the symbols inside every string of a JSON value (a whole-string NumericDate
/// expression becomes a number).
fn resolve_value(v: &Value, syms: &HashMap<String, String>, now: i64) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            if let Some(inner) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
                && let Some(n) = now_expr(inner, now)
            {
                n
            } else {
                Value::String(resolve(s, syms, now)?)
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| resolve_value(v, syms, now))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.insert(k.clone(), resolve_value(v, syms, now)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

/// `{"repeat": "x", "n": 5000}` → the string; anything else as it is.
fn expand_repeat(v: &Value) -> Value {
    match v {
        Value::Object(o) if o.contains_key("repeat") => {
            let unit = o["repeat"].as_str().unwrap();
            let n = o["n"].as_u64().unwrap() as usize;
            Value::String(unit.repeat(n))
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), expand_repeat(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(expand_repeat).collect()),
        other => other.clone(),
    }
}

/// A text, or pieces of text (`{"repeat","n"}` among them) to concatenate.
fn pieces(v: &Value) -> Result<String, String> {
    match expand_repeat(v) {
        Value::String(s) => Ok(s),
        Value::Array(parts) => parts
            .iter()
            .map(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("not a text piece: {p}"))
            })
            .collect(),
        other => Err(format!("not text: {other}")),
    }
}

/// The contract's signing secret, as check.py reads it.
fn contract_secret() -> String {
    std::env::var("KEYCARD_SECRET").unwrap_or_else(|_| axum_app::contract::DEFAULT_SECRET.into())
}

/// Mints one token of the `tokens` table.
fn mint(name: &str, spec: &Value, now: i64, counter: &mut u64) -> Result<String, String> {
    let spec = spec
        .as_object()
        .ok_or_else(|| format!("token {name}: not an object"))?;
    let nosyms = HashMap::new();
    if let Some(raw) = spec.get("raw") {
        return Ok(match expand_repeat(raw) {
            Value::String(s) => s,
            other => return Err(format!("token {name}: raw {other}")),
        });
    }
    let header: Vec<u8> = match (spec.get("header_raw"), spec.get("header")) {
        (Some(raw), _) => resolve(&pieces(raw)?, &nosyms, now)?.into_bytes(),
        (None, Some(h)) => serde_json::to_vec(h).unwrap(),
        (None, None) => br#"{"alg":"HS256","typ":"JWT"}"#.to_vec(),
    };
    let payload: Vec<u8> = if let Some(raw) = spec.get("payload_raw") {
        resolve(&pieces(raw)?, &nosyms, now)?.into_bytes()
    } else {
        *counter += 1;
        let mut claims = json!({
            "token_type": "access",
            "exp": now + 300,
            "iat": now,
            "jti": format!("conformance{counter:020}"),
            "user_id": "1",
            "iss": ISS,
            "aud": AUD,
        });
        if let Some(Value::Object(overrides)) = spec.get("claims") {
            let claims = claims.as_object_mut().unwrap();
            for (k, v) in overrides {
                if v.is_null() {
                    claims.remove(k);
                } else {
                    claims.insert(k.clone(), resolve_value(&expand_repeat(v), &nosyms, now)?);
                }
            }
        }
        serde_json::to_vec(&claims).unwrap()
    };
    let secret = spec
        .get("key")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(contract_secret);
    let signed = jwt::hs256(&header, &payload, secret.as_bytes());
    let (input, sig) = signed.rsplit_once('.').unwrap();
    let mut token = match spec.get("signature").and_then(Value::as_str) {
        None | Some("valid") => signed.clone(),
        Some("empty") => format!("{input}."),
        Some("absent") => input.to_owned(),
        Some("zeros") => format!("{input}.{}", jwt::b64url(&[0; 32])),
        // The last character changed in its low bits only: `…Q` and `…R` decode alike
        // in lenient base64 decoders.
        Some("low_bits") => {
            let last = sig.as_bytes()[sig.len() - 1];
            let flipped = (last ^ 1) as char;
            format!("{input}.{}{flipped}", &sig[..sig.len() - 1])
        }
        Some(other) => return Err(format!("token {name}: signature {other:?}")),
    };
    if let Some(Value::Object(insert)) = spec.get("insert") {
        let at = insert["at"].as_u64().unwrap() as usize;
        token.insert_str(at, insert["text"].as_str().unwrap());
    }
    if let Some(prefix) = spec.get("prefix").and_then(Value::as_str) {
        token.insert_str(0, prefix);
    }
    if let Some(suffix) = spec.get("suffix").and_then(Value::as_str) {
        token.push_str(suffix);
    }
    Ok(token)
}

// ------------------------------------------------------------------------------------------
// Building requests, checking answers

/// Builds a step's request, symbols resolved.
fn build_request(spec: &Value, syms: &HashMap<String, String>, now: i64) -> Result<Req, String> {
    let r = |s: &str| resolve(s, syms, now);
    let method = spec["method"].as_str().unwrap_or("GET").to_owned();
    let path = r(spec["path"].as_str().ok_or("request without a path")?)?;
    let mut headers = Vec::new();
    if let Some(auth) = spec.get("auth").and_then(Value::as_str) {
        headers.push(("authorization".to_owned(), r(auth)?.into_bytes()));
    }
    if let Some(list) = spec.get("headers").and_then(Value::as_array) {
        for pair in list {
            let name = pair[0].as_str().ok_or("header name")?.to_ascii_lowercase();
            let value = r(pair[1].as_str().ok_or("header value")?)?;
            headers.push((name, value.into_bytes()));
        }
    }
    let mut body = None;
    if let Some(j) = spec.get("json") {
        body = Some(serde_json::to_vec(&resolve_value(j, syms, now)?).unwrap());
    } else if let Some(raw) = spec.get("body") {
        body = Some(r(&pieces(raw)?)?.into_bytes());
    } else if let Some(hex) = spec.get("body_hex").and_then(Value::as_str) {
        let hex: String = hex.split_whitespace().collect();
        body = Some(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?,
        );
    }
    let wants_type = spec.get("content_type") != Some(&Value::Bool(false));
    if body.is_some() && wants_type && !headers.iter().any(|(n, _)| n == "content-type") {
        headers.push(("content-type".to_owned(), b"application/json".to_vec()));
    }
    Ok(Req {
        method,
        path,
        headers,
        body,
        content_length: spec.get("content_length") != Some(&Value::Bool(false)),
    })
}

/// A JWT's shape, for comparing answers that carry fresh tokens: its header and the names
/// and stable values of its claims (never `jti`, `exp`, `iat` or the session id).
fn jwt_shape(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || s.is_empty() {
        return None;
    }
    let header: Value = serde_json::from_slice(&jwt::b64url_decode(h)?).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&jwt::b64url_decode(p)?).ok()?;
    let stable = ["token_type", "user_id", "iss", "aud"];
    let mut shape = format!("<jwt {header}");
    for (k, v) in &claims {
        if stable.contains(&k.as_str()) {
            let _ = write!(shape, " {k}={v}");
        } else {
            let _ = write!(shape, " {k}");
        }
    }
    shape.push('>');
    Some(shape)
}

/// The body with every JWT replaced by its shape; other bytes kept.
fn normalized_body(body: &[u8]) -> Vec<u8> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let mut text = String::from_utf8_lossy(body).into_owned();
    let mut strings = Vec::new();
    collect_strings(&v, &mut strings);
    for s in strings {
        if let Some(shape) = jwt_shape(&s) {
            text = text.replace(&s, &shape);
        }
    }
    text.into_bytes()
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// The differences between the two adapters' answers.
fn compare(axum: &Answer, actix: &Answer) -> Vec<String> {
    let mut problems = Vec::new();
    if axum.status != actix.status {
        problems.push(format!(
            "status: axum {} / actix {}",
            axum.status, actix.status
        ));
    }
    let by_name = |a: &Answer| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, v) in &a.headers {
            if !TRANSPORT_HEADERS.contains(&n.as_str()) {
                m.entry(n.clone())
                    .or_default()
                    .push(String::from_utf8_lossy(v).into_owned());
            }
        }
        m
    };
    let (ha, hb) = (by_name(axum), by_name(actix));
    let names: BTreeSet<&String> = ha.keys().chain(hb.keys()).collect();
    for name in names {
        if ha.get(name) != hb.get(name) {
            problems.push(format!(
                "header {name}: axum {:?} / actix {:?}",
                ha.get(name),
                hb.get(name)
            ));
        }
    }
    let (ba, bb) = (normalized_body(&axum.body), normalized_body(&actix.body));
    if ba != bb {
        problems.push(format!(
            "body: axum {} / actix {}",
            String::from_utf8_lossy(&ba),
            String::from_utf8_lossy(&bb)
        ));
    }
    problems
}

/// A header expectation: a string (exact), `null` (absent), `{"contains": "…"}`,
/// `{"present": true}`.
fn check_header(name: &str, want: &Value, got: Option<String>, problems: &mut Vec<String>) {
    match (want, got) {
        (Value::Null, None) => {}
        (Value::Null, Some(g)) => problems.push(format!("unexpected {name}: {g:?}")),
        (Value::String(w), Some(g)) if *w == g => {}
        (Value::Object(o), Some(g)) if o.contains_key("contains") => {
            let w = o["contains"].as_str().unwrap();
            if !g.contains(w) {
                problems.push(format!("{name} {g:?} lacks {w:?}"));
            }
        }
        (Value::Object(o), Some(_)) if o.contains_key("present") => {}
        (w, g) => problems.push(format!("{name}: got {g:?}, want {w}")),
    }
}

/// A body pattern: `"<jwt>"` a JWT, `"<string>"` any string, `"<any>"` anything; objects
/// in `has` are matched key by key.
fn matches(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::String(w), Value::String(g)) if w == "<jwt>" => jwt_shape(g).is_some(),
        (Value::String(w), Value::String(_)) if w == "<string>" => true,
        (Value::String(w), _) if w == "<any>" => true,
        (w, g) => w == g,
    }
}

/// Checks one answer against a step's `expect` and the harness's defaults.
fn check(expect: &Value, req: &Req, ans: &Answer, sent_tokens: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let want_status = expect["status"].as_u64().unwrap_or(200) as u16;
    if ans.status != want_status {
        problems.push(format!("status {}, want {want_status}", ans.status));
    }
    let listed = expect.get("headers").and_then(Value::as_object);
    let listed_or =
        |name: &str, default: Value| listed.and_then(|h| h.get(name)).cloned().unwrap_or(default);
    // The harness's defaults (see the module docs).
    let token_endpoint = req.path.starts_with("/api/token/") && ![404, 405].contains(&ans.status);
    let defaults = [
        ("content-type", json!("application/json")),
        ("www-authenticate", Value::Null),
        ("allow", Value::Null),
        (
            "cache-control",
            if token_endpoint {
                json!("no-store")
            } else {
                Value::Null
            },
        ),
    ];
    for (name, default) in &defaults {
        check_header(
            name,
            &listed_or(name, default.clone()),
            ans.header_str(name),
            &mut problems,
        );
    }
    if let Some(h) = listed {
        for (name, want) in h {
            if !defaults.iter().any(|(n, _)| n == name) {
                check_header(name, want, ans.header_str(name), &mut problems);
            }
        }
    }
    if let Some(len) = ans.header_str("content-length")
        && req.method != "HEAD"
        && len != ans.body.len().to_string()
    {
        problems.push(format!(
            "content-length {len} but {} body bytes",
            ans.body.len()
        ));
    }
    let body = ans.json();
    if let Some(want) = expect.get("json")
        && body.as_ref() != Some(want)
    {
        problems.push(format!(
            "body {}, want {want}",
            String::from_utf8_lossy(&ans.body)
        ));
    }
    if let Some(Value::Object(has)) = expect.get("has") {
        for (k, w) in has {
            match body.as_ref().and_then(|b| b.get(k)) {
                Some(g) if matches(w, g) => {}
                got => problems.push(format!("body {k} = {got:?}, want {w}")),
            }
        }
    }
    if let Some(Value::Array(keys)) = expect.get("keys") {
        let got: BTreeSet<String> = body
            .as_ref()
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let want: BTreeSet<String> = keys
            .iter()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        if got != want {
            problems.push(format!("body keys {got:?}, want {want:?}"));
        }
    }
    if let Some(text) = expect.get("body").and_then(Value::as_str)
        && ans.body != text.as_bytes()
    {
        problems.push(format!(
            "body {:?}, want {text:?}",
            String::from_utf8_lossy(&ans.body)
        ));
    }
    // Never echo a token that was sent (nor any long piece of one).
    let echoed = String::from_utf8_lossy(&ans.body).into_owned()
        + &ans
            .headers
            .iter()
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect::<String>();
    for t in sent_tokens {
        if t.len() >= 16 && echoed.contains(t.as_str()) {
            problems.push(format!("the answer echoes a token that was sent: {t:.24}…"));
        }
    }
    problems
}

/// The symbol values a request carries (tokens, long ones), to check they are not echoed.
fn sent_tokens(req: &Req, syms: &HashMap<String, String>, minted: &[String]) -> Vec<String> {
    let mut raw = req.path.clone().into_bytes();
    for (_, v) in &req.headers {
        raw.extend_from_slice(v);
    }
    if let Some(b) = &req.body {
        raw.extend_from_slice(b);
    }
    let raw = String::from_utf8_lossy(&raw);
    syms.values()
        .chain(minted)
        .filter(|t| t.len() >= 16 && raw.contains(t.as_str()))
        .cloned()
        .collect()
}

/// Saves `{"symbol": "/json/pointer"}` from an answer's body into a world's symbols.
fn save(spec: &Value, ans: &Answer, syms: &mut HashMap<String, String>) -> Result<(), String> {
    let Some(Value::Object(saves)) = spec.get("save") else {
        return Ok(());
    };
    let body = ans.json().ok_or("save: the body is not JSON")?;
    for (sym, pointer) in saves {
        let v = body
            .pointer(pointer.as_str().unwrap())
            .and_then(Value::as_str)
            .ok_or_else(|| format!("save {sym}: no string at {pointer}"))?;
        syms.insert(sym.clone(), v.to_owned());
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The suite

/// The suite file, parsed.
fn suite() -> Value {
    serde_json::from_str(CASES).expect("tests/conformance/cases.json is valid JSON")
}

/// Every case's steps: a case is one step, or a sequence of them.
fn steps(case: &Value) -> Vec<&Value> {
    match case.get("steps") {
        Some(Value::Array(steps)) => steps.iter().collect(),
        _ => vec![case],
    }
}

#[actix_web::test]
async fn both_adapters_answer_every_case_alike_and_as_expected() {
    let show = std::env::var_os("CONFORMANCE_SHOW").is_some();
    let suite = suite();
    let now = now();

    // The hand-minted tokens: the same bytes for both apps.
    let mut minted_syms = HashMap::new();
    let mut counter = 0;
    for (name, spec) in suite["tokens"].as_object().unwrap() {
        if name.starts_with('#') {
            continue;
        }
        let token = mint(name, spec, now, &mut counter).unwrap();
        minted_syms.insert(name.clone(), token);
    }
    let minted: Vec<String> = minted_syms.values().cloned().collect();

    // The two apps, each with its own users and store, built by the examples' own code.
    let contract = axum_app::contract::from_env().unwrap();
    let axum = axum_app::app(contract.tokens, contract.authenticators);
    let contract = actix_app::contract::from_env().unwrap();
    let actix =
        actix_web::test::init_service(actix_app::app(contract.tokens, contract.authenticators))
            .await;
    // Each app's symbols: the minted tokens, then what `setup` and the sequences save.
    let mut syms = [minted_syms.clone(), minted_syms];

    let mut failures = Vec::new();
    let (mut cases, mut requests) = (0, 0);
    let setup = json!({ "name": "setup", "steps": suite["setup"] });
    for case in std::iter::once(&setup).chain(suite["cases"].as_array().unwrap()) {
        let name = case["name"].as_str().unwrap();
        cases += 1;
        for (i, step) in steps(case).into_iter().enumerate() {
            requests += 1;
            let label = if case.get("steps").is_some() {
                format!(
                    "{name} #{}{}",
                    i + 1,
                    step.get("name")
                        .map(|n| format!(" {}", n.as_str().unwrap()))
                        .unwrap_or_default()
                )
            } else {
                name.to_owned()
            };
            let mut answers = Vec::new();
            for (adapter, syms) in ["axum", "actix"].into_iter().zip(syms.iter_mut()) {
                let req = match build_request(&step["request"], syms, now) {
                    Ok(r) => r,
                    Err(e) => panic!("{label}: {e}"),
                };
                let ans = if adapter == "axum" {
                    call_axum(&axum, &req).await
                } else {
                    call_actix(&actix, &req, |test, content_length| {
                        let mut request = test.to_request();
                        if !content_length {
                            request
                                .headers_mut()
                                .remove(actix_web::http::header::CONTENT_LENGTH);
                        }
                        request
                    })
                    .await
                };
                if show {
                    println!(
                        "{label} [{adapter}] {} {}\n  → {}",
                        req.method,
                        req.path,
                        ans.show()
                    );
                }
                let sent = sent_tokens(&req, syms, &minted);
                for p in check(&step["expect"], &req, &ans, &sent) {
                    failures.push(format!("{label} [{adapter}]: {p}"));
                }
                if let Err(e) = save(step, &ans, syms) {
                    failures.push(format!("{label} [{adapter}]: {e}"));
                }
                answers.push(ans);
            }
            for p in compare(&answers[0], &answers[1]) {
                failures.push(format!("{label} [axum ≠ actix]: {p}"));
            }
        }
    }
    println!(
        "conformance: setup and {} cases, {requests} requests, each sent to axum and to actix",
        cases - 1
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------------------------------
// Coverage: the suite folds in check.py and ../shared/cases/, and says what it leaves out

/// `../shared/` beside the repository (DESIGN.md), where CI and every developer have it.
fn shared(path: &str) -> Option<String> {
    let full = format!("{}/../shared/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(full).ok()
}

/// Every `refs` entry of every case.
fn all_refs(suite: &Value) -> BTreeSet<String> {
    suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["refs"].as_array().unwrap())
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// A case id of ../shared/cases/ (`AU4`, `HX1`, `TK10`) at the start of `text`.
fn case_id(text: &str) -> Option<&str> {
    let letters = text.get(..2)?;
    let digits = text[2..].bytes().take_while(u8::is_ascii_digit).count();
    (letters.bytes().all(|b| b.is_ascii_uppercase()) && digits > 0).then(|| &text[..2 + digits])
}

#[test]
fn every_check_py_case_is_folded_in() {
    let Some(check) = shared("contract/check.py") else {
        println!("SKIPPED: ../shared/contract/check.py is not beside the repository");
        return;
    };
    let names: Vec<&str> = check
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("yield ")?;
            let rest = rest.strip_prefix("case(").unwrap_or(rest);
            rest.strip_prefix('"')?.split('"').next()
        })
        .collect();
    assert!(
        names.len() >= 57,
        "found only {} check.py cases",
        names.len()
    );
    let refs = all_refs(&suite());
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !refs.contains(&format!("check.py:{n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "check.py cases not in the suite: {missing:?}"
    );
}

#[test]
fn every_shared_case_is_run_or_its_absence_explained() {
    let mut ids = BTreeSet::new();
    for file in [
        "authentication",
        "tokens",
        "policies",
        "adapters",
        "hostile",
    ] {
        let Some(text) = shared(&format!("cases/{file}.md")) else {
            println!("SKIPPED: ../shared/cases/ is not beside the repository");
            return;
        };
        for line in text.lines() {
            let start = line
                .strip_prefix("**")
                .or_else(|| line.strip_prefix("| "))
                .unwrap_or_default();
            if let Some(id) = case_id(start) {
                ids.insert(id.to_owned());
            }
        }
    }
    assert!(ids.len() > 60, "found only {} case ids", ids.len());
    let suite = suite();
    let run: BTreeSet<String> = all_refs(&suite)
        .iter()
        .filter_map(|r| case_id(r).map(str::to_owned))
        .collect();
    let explained: BTreeSet<String> = suite["not_covered"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let unaccounted: Vec<_> = ids
        .iter()
        .filter(|id| !run.contains(*id) && !explained.contains(*id))
        .collect();
    assert!(
        unaccounted.is_empty(),
        "case ids neither run nor listed in not_covered: {unaccounted:?}"
    );
    let unknown: Vec<_> = run
        .union(&explained)
        .filter(|id| !ids.contains(*id))
        .collect();
    assert!(
        unknown.is_empty(),
        "refs to ids that ../shared/cases/ does not have: {unknown:?}"
    );
}
