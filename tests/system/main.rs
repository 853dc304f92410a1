//! One test binary for the whole system (one link of the AWS SDK, one moto server).

mod authorize;
mod edge;
mod events;
mod export;
mod invite;
mod openapi;
mod pipeline;
mod queries;
mod query_sites;
mod scheduled;
mod store;
mod template;
