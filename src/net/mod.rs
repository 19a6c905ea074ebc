//! Facts about addresses that every stage shares: what counts as private,
//! Azure's fixed addresses, Docker's bridge, and the system resolver's rules
//! for asking servers. It sits below `probe`,
//! `diagnose` and `local`, and imports none of them.

pub mod address;
pub mod resolver;

pub use address::{AZURE_DNS, AddressClass, AddressPolicy, AddressRule, DOCKER_BRIDGE, is_private_range};
pub use resolver::{MAX_NAMESERVERS, ResolverRules};
