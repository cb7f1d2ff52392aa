//! Integration tests: the real app on port 0, driven over HTTP.

mod emulators;
mod fake_gitlab;
mod gitlab;
mod helpers;
mod hooks;

mod auth;
mod browser;
mod browser_firebase;
mod catalog;
mod cluster;
mod contract_bus;
mod contract_leases;
mod contract_queue;
mod contract_store;
mod controller;
mod deploy;
mod environments;
mod exactly_once;
mod faults;
mod firebase;
mod kubectl;
mod lifecycle;
mod operations;
mod replicas;
mod replicas_lease;
mod restart;
mod secrets;
mod sse;
mod sse_client;
mod sse_stream;
mod storm;
mod storm_model;
mod ui;
mod ui_forms;
mod validation;
