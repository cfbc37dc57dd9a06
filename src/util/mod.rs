//! Small helpers shared by several subsystems.

pub mod args;
pub mod glob;
pub mod num;
pub mod time;
pub mod xfloat;
