//! Test-only fault injection: `PGROSTER_FAULT_ABORT_AT` aborts the process (as `kill -9`
//! would: no destructor, no flush) at a fault point an apply passes: `N`, the Nth point, or a
//! point's name (`after commit`), its first pass. The points are the instants where a crash
//! could lose or strand a password: after each audit write, after delivery, before each
//! statement batch, just before and just after each COMMIT. The crash tests
//! (tests/integration/crash.rs) use it to stop a run at chosen instants; it is not a user
//! setting and is read nowhere else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const VARIABLE: &str = "PGROSTER_FAULT_ABORT_AT";

enum AbortAt {
    Nth(u64),
    Named(String),
}

/// Passes the fault point `name`; aborts when it is the one the variable names.
pub(crate) fn point(name: &'static str) {
    static ABORT_AT: OnceLock<Option<AbortAt>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let abort_at = ABORT_AT.get_or_init(|| {
        let value = std::env::var(VARIABLE).ok()?;
        Some(match value.trim().parse() {
            Ok(n) => AbortAt::Nth(n),
            Err(_) => AbortAt::Named(value.trim().to_string()),
        })
    });
    let passed = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
    match abort_at {
        Some(AbortAt::Nth(n)) if *n == passed => std::process::abort(),
        Some(AbortAt::Named(at)) if at == name => std::process::abort(),
        _ => {}
    }
}
