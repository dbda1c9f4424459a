//! Changes -> SQL (`ddl`, through `quote`), the plan as text or JSON, and the read commands'
//! tables (`table`). No I/O.

pub mod ddl;
#[cfg(test)]
mod fixture;
pub mod json;
pub mod quote;
pub mod table;
pub mod text;

pub use ddl::Statement;
