//! One test binary for the whole system (one link of the AWS SDK, one local DynamoDB, one moto
//! server).

mod authorize;
mod edge;
mod events;
mod export;
mod faults;
mod identity;
mod invite;
mod local_stack;
mod observe;
mod openapi;
mod pipeline;
mod queries;
mod query_sites;
mod rekey;
mod retention;
mod scheduled;
mod state_machine;
mod store;
mod subject;
mod sunset;
mod template;
