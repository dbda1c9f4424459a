//! Changes -> SQL (`ddl`, through `quote`), the plan as text or JSON, and what the read
//! commands print (`inventory`, through the one table printer `table`). No I/O.

pub mod ddl;
#[cfg(test)]
mod fixture;
pub mod inventory;
pub mod json;
pub mod quote;
pub mod table;
pub mod text;

pub use ddl::Statement;
