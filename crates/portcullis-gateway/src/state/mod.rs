//! State that outlives a request: failed-authentication counters and lockouts, and the API key
//! store. The embedded backend keeps counters in process and persists keys in a redb file;
//! shared backends (Redis) plug in behind the same types for several replicas.

pub mod key_store;
pub mod lockout;
