//! Many machines at once: `amlnet merge` (one view of many reports) and
//! `amlnet job` (an Azure ML command job that runs `amlnet check` on every
//! node of a compute cluster). Both read and write files only; neither
//! sends a packet.

pub mod job;
pub mod merge;
