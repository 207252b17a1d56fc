//! Clientela's sync server: desktops push their changes and pull everyone else's, through a
//! change log with increasing sequence numbers. SQLite in a data folder by default.

mod access;
mod api;
pub mod db;
mod error;
pub mod integrator;
mod log;
mod records;
mod rest;

pub use api::router;
pub use db::{Backend, Caller, Db, Role};
pub use error::Error;

/// Serves the API on `listener` until `shutdown` completes. Taking a bound listener lets
/// tests bind port 0 and know the address before the first request.
pub async fn serve(
    listener: tokio::net::TcpListener,
    db: Db,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "serving");
    }
    axum::serve(listener, router(db))
        .with_graceful_shutdown(shutdown)
        .await
}
