//! What a long run says as it goes (clusters read, changes applied), for a progress display.
//! The library only reports; the CLI decides whether and how to show it (`cli::progress`).

use crate::model::ClusterKey;

/// Told by `fleet::plan_fleet` and `apply::run` as work is done, from several threads at once.
/// Every method does nothing unless overridden.
pub trait Progress: Sync {
    /// `total` clusters are about to be read.
    fn reading(&self, _total: usize) {}
    /// One more cluster was read (or could not be).
    fn read(&self, _cluster: &ClusterKey) {}
    /// `total` changes are about to be applied.
    fn applying(&self, _total: usize) {}
    /// `changes` more ran (committed or rolled back).
    fn applied(&self, _changes: usize) {}
}

/// Reports to nobody.
pub struct Silent;

impl Progress for Silent {}
