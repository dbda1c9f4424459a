//! Changes -> SQL (`ddl`, through `quote`), and the plan as text or JSON. No I/O.

pub mod ddl;
#[cfg(test)]
mod fixture;
pub mod json;
pub mod quote;
pub mod text;

pub use ddl::Statement;
