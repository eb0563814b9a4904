//! The management API (`/api/*`) as data: its route table with who may call each route, the checks
//! its inputs go through, and the OpenAPI document that describes it and `/v1`. The platform's
//! `manage` modules, one per resource, do the I/O.

pub mod input;
pub mod openapi;
pub mod params;
pub mod routes;
