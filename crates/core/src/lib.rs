//! Clientela's core: the domain rules, the local SQLite store and the customer-file
//! importer. It knows nothing of windows or HTTP, so the desktop shell, the server, the
//! benchmark and the tests all drive the same code.

pub mod domain;
pub mod error;
pub mod hlc;
pub mod import;
pub mod importer;
mod runtime;
pub mod store;
pub mod sync;

pub use error::{Error, Result};
