//! amlnet: can this machine use a network-isolated Azure Machine Learning
//! workspace, and if not, why?
//!
//! The pipeline is the architecture, one module per stage, plain data
//! between them:
//!
//! ```text
//! target -> plan -> probe (run) -> diagnose -> report
//! ```
//!
//! [`target`] reads what the user gave; [`catalogue`] and [`plan`] turn the
//! data in `probes/` into concrete endpoints; [`probe`] sends the traffic;
//! [`diagnose`] judges; [`report`] renders. [`local`] reads this machine's
//! setup; [`lab`] is the simulated network behind `amlnet demo` and the tests.

pub mod assembly;
pub mod catalogue;
pub mod check;
pub mod cli;
pub mod cloud;
pub mod diagnose;
pub mod diff;
pub mod fleet;
pub mod hostname;
pub mod input;
pub mod interrupt;
pub mod lab;
pub mod local;
pub mod net;
pub mod plan;
pub mod probe;
pub mod redact;
pub mod report;
pub mod target;
pub mod term;
