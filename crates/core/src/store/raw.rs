//! Bulk writes through prepared statements on the very connection (and transaction) that
//! sqlx holds.
//!
//! sqlx sends every statement to a worker thread and back; for an import of 100,000
//! customers with half a dozen rows each, that round trip costs more than SQLite's own
//! work. Here the statements run on the caller's thread, reused row after row, inside
//! whatever transaction the sqlx connection has open.

use sqlx::SqliteConnection;

use crate::runtime::blocking;
use crate::Result;

/// Runs `work` with a rusqlite view of `conn`. The caller's open transaction, pragmas and
/// attached state all apply; statements prepared inside are finalised before returning.
pub(crate) async fn with_raw<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T> {
    let mut handle = conn.lock_handle().await?;
    let db = borrow_handle(handle.as_raw_handle().as_ptr())?;
    let result = blocking(|| work(&db));
    // Finalises the statements while sqlx's lock is still held.
    drop(db);
    Ok(result?)
}

/// A rusqlite connection that uses `handle` without owning it.
#[allow(unsafe_code)]
fn borrow_handle(handle: *mut rusqlite::ffi::sqlite3) -> rusqlite::Result<rusqlite::Connection> {
    // SAFETY: `handle` is a live connection locked for us by sqlx (`lock_handle`), so no
    // other thread uses it while the returned connection exists; `with_raw` drops that
    // connection before the lock. `from_handle` neither closes nor reconfigures the handle.
    unsafe { rusqlite::Connection::from_handle(handle) }
}
