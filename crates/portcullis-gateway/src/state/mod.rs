//! State that outlives a request: rate limits (GCRA, embedded or Redis), failed-authentication
//! counters and lockouts, and the API key store. The embedded backend keeps counters in process
//! and persists keys in a redb file; Redis shares rate limits across gateway replicas.

pub mod ban_store;
pub mod calendar;
pub mod gcra;
pub mod key_store;
pub mod limiter;
pub mod lockout;
pub mod memory_limiter;
pub mod quota_store;
pub mod redis_limiter;
