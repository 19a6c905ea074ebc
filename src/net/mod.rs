//! Facts about addresses that every stage shares: what counts as private,
//! Azure's fixed addresses and Docker's bridge. It sits below `probe`,
//! `diagnose` and `local`, and imports none of them.

pub mod address;

pub use address::{AZURE_DNS, AddressClass, AddressPolicy, AddressRule, DOCKER_BRIDGE, is_private_range};
