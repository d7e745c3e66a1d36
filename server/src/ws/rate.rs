//! A connection's rate limit: a token bucket of `burst` frames, refilled at `per_sec`.

use std::time::Instant;

use crate::config::Settings;

pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub fn new(settings: &Settings) -> Self {
        let burst = f64::from(settings.rate_limit_burst.max(1));
        Self {
            per_sec: settings.rate_limit_per_sec,
            burst,
            tokens: burst,
            refilled: Instant::now(),
        }
    }

    /// Takes a token; false when the bucket is empty.
    pub fn allow(&mut self) -> bool {
        if self.per_sec <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
