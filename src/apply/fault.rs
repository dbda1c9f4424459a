//! Test-only fault injection: `PGROSTER_FAULT_ABORT_AT=N` aborts the process (as `kill -9`
//! would: no destructor, no flush) at the Nth fault point an apply passes. The points are the
//! instants where a crash could lose or strand a password: after each audit write, after
//! delivery, before each statement batch, just before and just after each COMMIT. The crash
//! tests (tests/integration/crash.rs) use it to stop a run at chosen instants; it is not a user
//! setting and is read nowhere else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const VARIABLE: &str = "PGROSTER_FAULT_ABORT_AT";

/// Passes one named fault point; aborts when it is the Nth. The name is for whoever reads the
/// code: what a test replays is the number.
pub(crate) fn point(_name: &'static str) {
    static ABORT_AT: OnceLock<Option<u64>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let Some(abort_at) = *ABORT_AT.get_or_init(|| {
        std::env::var(VARIABLE)
            .ok()
            .and_then(|n| n.trim().parse().ok())
    }) else {
        return;
    };
    if PASSED.fetch_add(1, Ordering::SeqCst) + 1 == abort_at {
        std::process::abort();
    }
}
