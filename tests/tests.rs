//! Integration tests: every test runs the real `bonusrun` binary on fixtures whose expected
//! results are worked out by hand in the test or fixture.

mod util;

mod determinism;
mod errors;
mod exports;
mod finance;
mod key_clients;
mod payouts;
mod plugins;
mod runaway;
