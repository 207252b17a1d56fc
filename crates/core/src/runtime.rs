//! Running blocking work from async code.

/// Runs CPU-bound or blocking work (analysing or writing 100,000 rows takes a fraction of a
/// second) without holding up the other tasks of a multi-threaded runtime, such as the
/// desktop's command handlers.
pub(crate) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
