//! A progress bar on stderr for long work: clusters read, then changes applied. Only on a
//! terminal, never with `NO_COLOR` or `--quiet`, and never on stdout, which carries the plan.

use crate::cli::output::Output;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pgroster::model::ClusterKey;
use pgroster::progress::{Progress, Silent};

/// indicatif draws the bar; it is cleared when the value is dropped.
struct Bar(ProgressBar);

impl Bar {
    fn restart(&self, total: usize, what: &'static str) {
        self.0.set_position(0);
        self.0.set_length(total as u64);
        self.0.set_message(what);
    }
}

impl Progress for Bar {
    fn reading(&self, total: usize) {
        self.restart(total, "clusters read");
    }

    fn read(&self, _: &ClusterKey) {
        self.0.inc(1);
    }

    fn applying(&self, total: usize) {
        self.restart(total, "changes applied");
    }

    fn applied(&self, changes: usize) {
        self.0.inc(changes as u64);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// The bar when `output` may show one, else nothing.
pub fn for_output(output: &Output) -> Box<dyn Progress> {
    if !output.progress {
        return Box::new(Silent);
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos}/{len} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    Box::new(Bar(bar))
}
