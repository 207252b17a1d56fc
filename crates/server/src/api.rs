//! The HTTP API: `/v1/...`, JSON in and out, every request authenticated by a bearer secret.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use clientela_core::sync::{
    LoggedChange, PullResponse, PushRequest, PushResponse, Session, MAX_PULL, MAX_PUSH,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::db::{Caller, Db};
use crate::Error;

/// The routes, over `db`.
pub fn router(db: Db) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/session", get(session))
        .route("/v1/sync/push", post(push))
        .route("/v1/sync/pull", get(pull))
        .route("/v1/sync/events", get(events))
        .route("/v1/sync/history", get(history))
        .merge(crate::rest::routes())
        .fallback(|| async { Error::NotFound("route") })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .with_state(db)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn session(State(db): State<Db>, caller: Caller) -> Result<Json<Session>, Error> {
    Ok(Json(db.session(&caller).await?))
}

async fn push(
    State(db): State<Db>,
    caller: Caller,
    Body(request): Body<PushRequest>,
) -> Result<Json<PushResponse>, Error> {
    if request.changes.len() > MAX_PUSH {
        return Err(Error::invalid(
            "changes",
            format!("more than {MAX_PUSH} in one push"),
        ));
    }
    let results = db.push(&caller, &request.changes).await?;
    Ok(Json(PushResponse { results }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullQuery {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

async fn pull(
    State(db): State<Db>,
    caller: Caller,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Json<PullResponse>, Error> {
    let Query(query) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(MAX_PULL);
    if limit == 0 || limit > MAX_PULL {
        return Err(Error::invalid("limit", format!("must be 1 to {MAX_PULL}")));
    }
    Ok(Json(db.pull(&caller, query.after, limit).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    entity: String,
    id: String,
}

/// Everything the server holds about one entity, for a desktop to return to after a
/// refused change.
async fn history(
    State(db): State<Db>,
    caller: Caller,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<LoggedChange>>, Error> {
    let Query(query) = query.map_err(|e| Error::invalid("query", e.body_text()))?;
    Ok(Json(db.history(&caller, &query.entity, &query.id).await?))
}

/// A WebSocket that says `{"head": <seq>}` when it opens and whenever the caller's company
/// log grows, so desktops pull within moments instead of on a timer.
async fn events(
    State(db): State<Db>,
    caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Error> {
    Ok(upgrade.on_upgrade(move |socket| tell_growth(socket, db, caller)))
}

async fn tell_growth(mut socket: WebSocket, db: Db, caller: Caller) {
    let mut grown = db.watch();
    // A revoked credential's socket closes too, at the next notice or within a minute.
    let mut recheck = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut head = match db.last_seq(&caller.company).await {
        Ok(head) => head,
        Err(e) => {
            tracing::warn!(error = %e, "events: reading the log failed");
            return;
        }
    };
    loop {
        if !db.is_active(&caller.credential).await.unwrap_or(false) {
            return close_revoked(socket).await;
        }
        let message = serde_json::json!({ "head": head }).to_string();
        if socket.send(Message::Text(message.into())).await.is_err() {
            return;
        }
        head = loop {
            tokio::select! {
                notice = grown.recv() => match notice {
                    Ok((company, seq)) if company == caller.company => break seq,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => match db.last_seq(&caller.company).await {
                        Ok(seq) => break seq,
                        Err(_) => return,
                    },
                    Err(RecvError::Closed) => return,
                },
                _ = recheck.tick() => {
                    if !db.is_active(&caller.credential).await.unwrap_or(false) {
                        return close_revoked(socket).await;
                    }
                }
                incoming = socket.recv() => match incoming {
                    // The desktop went away.
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                },
            }
        };
    }
}

/// Closes a socket whose credential was revoked, saying so.
async fn close_revoked(mut socket: WebSocket) {
    let frame = CloseFrame {
        code: close_code::POLICY,
        reason: "the credential was revoked".into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

impl FromRequestParts<Db> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, db: &Db) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, secret) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(secret)
            })
            .ok_or(Error::Unauthorized)?;
        db.caller(secret.trim()).await?.ok_or(Error::Unauthorized)
    }
}

/// A JSON body whose rejection names what is wrong, as `{ code, message }`.
pub(crate) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .is_some_and(|mime| mime == "application/json" || mime.ends_with("+json"));
        if !is_json {
            return Err(Error::invalid(
                "body",
                "send JSON, with the header Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge,
                _ => Error::invalid("body", e.body_text()),
            })?;
        // serde would also read a struct from an array of its fields in order; a request
        // names its fields.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::invalid("body", "not a JSON object"));
        }
        let Json(value) = Json::<T>::from_bytes(&bytes)
            .map_err(|e: JsonRejection| Error::invalid("body", e.body_text()))?;
        Ok(Body(value))
    }
}
