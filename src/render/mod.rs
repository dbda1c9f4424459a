//! Changes -> SQL (`ddl`, through `quote`), the plan as text (`--compact`: `compact`), JSON or
//! Markdown (a saved plan's header: `saved`), and what the read commands print (`inventory`, through the one table printer
//! `table`). No I/O.

pub(crate) mod compact;
pub mod ddl;
#[cfg(test)]
pub(crate) mod fixture;
pub mod inventory;
pub mod json;
pub mod markdown;
pub mod quote;
pub mod report;
pub mod saved;
pub mod table;
pub mod text;

pub use ddl::Statement;
