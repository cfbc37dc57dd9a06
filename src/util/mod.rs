//! Small helpers shared by several subsystems.

pub mod args;
pub mod glob;
pub mod num;
pub mod size_class;
pub mod time;
pub mod xfloat;

/// Whether this thread is a worker of a multi-thread tokio runtime, where
/// `tokio::task::block_in_place` may hand the worker's other tasks to another
/// thread before a long wait or a long command.
pub fn on_runtime_worker() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}
