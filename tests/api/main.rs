//! Integration tests: the real app on port 0, driven over HTTP.

mod helpers;

mod catalog;
mod cluster;
mod environments;
mod kubectl;
mod lifecycle;
mod operations;
mod restart;
mod sse;
mod validation;
