//! Integration tests: the `labrun` binary on real scenarios, real sockets and real
//! gcc-compiled C programs. One test binary, shared helpers in `common`.

mod abuse;
mod autograder;
mod class;
mod common;
mod confined;
mod crash;
mod doctor;
mod external;
mod grading;
mod hostile_class;
mod html;
mod invalid;
mod layout;
mod live;
mod observe;
mod partitions;
mod reference;
mod repetition;
mod resolver;
mod robustness;
mod scale;
mod scenarios;
mod signals;
