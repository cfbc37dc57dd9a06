//! Persistence formats: the RDB serialization (shared by DUMP/RESTORE, and
//! later by RDB files, AOF base files and replica full syncs) and the DUMP
//! payload built on it.

pub mod dump;
pub mod rdb;
