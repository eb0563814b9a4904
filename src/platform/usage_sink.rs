//! The pipeline's `UsageSink` and `Clock` ports. Records go to the usage store, which writes them
//! off the hot path (`wait_until`); the sink holds the request's context because a stream's record
//! is written when the stream ends, after the handler returned.

use super::env;
use crate::engine::ports::{Clock, Random, UsageSink};
use crate::metering::UsageRecord;
use std::rc::Rc;
use worker::{Context, Env};

pub struct StoreSink {
    pub env: Env,
    pub ctx: Rc<Context>,
}

impl UsageSink for StoreSink {
    fn record(&self, record: UsageRecord) {
        super::usage_store::record(&self.env, &self.ctx, record);
    }
}

pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now_ms(&self) -> i64 {
        env::now_ms()
    }
}

pub struct WorkerRandom;

impl Random for WorkerRandom {
    fn fill(&self, buf: &mut [u8]) {
        env::fill_random(buf);
    }
}
