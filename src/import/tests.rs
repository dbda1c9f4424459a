//! Unit tests of import: a small current state in, the document out.
