//! Turn leases on Redis: `toolstream:{id}:lease` holds the holder's id with a time to
//! live. Taking, renewing and releasing are Lua scripts, so that each checks the
//! holder and acts in one step (no other server's lease is ever extended or dropped).

use redis::{Script, aio::ConnectionManager};

use super::{key, unavailable};
use crate::bus::BusError;

pub(super) struct Leases {
    /// How long a lease lasts without a renewal.
    ttl_ms: u64,
    take: Script,
    renew: Script,
    release: Script,
}

impl Leases {
    pub(super) fn new(ttl_ms: u64) -> Self {
        Self {
            ttl_ms,
            // Free, or already ours (a retry after a lost answer): ours for the TTL.
            take: Script::new(
                "local v = redis.call('GET', KEYS[1]) \
                 if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end \
                 if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
                 return 0",
            ),
            renew: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
            ),
            release: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                 return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
        }
    }

    /// Takes the session's lease for `holder`; false when another holds it.
    pub(super) async fn take(
        &self,
        commands: &ConnectionManager,
        session: &str,
        holder: &str,
    ) -> Result<bool, BusError> {
        Ok(self.run(&self.take, commands, session, holder).await? == 1)
    }

    /// Extends `holder`'s lease; false when it has lost it.
    pub(super) async fn renew(
        &self,
        commands: &ConnectionManager,
        session: &str,
        holder: &str,
    ) -> Result<bool, BusError> {
        Ok(self.run(&self.renew, commands, session, holder).await? == 1)
    }

    /// Lets `holder`'s lease go (nothing when another holds it).
    pub(super) async fn release(
        &self,
        commands: &ConnectionManager,
        session: &str,
        holder: &str,
    ) -> Result<(), BusError> {
        self.run(&self.release, commands, session, holder).await?;
        Ok(())
    }

    /// Runs one of the scripts on the session's lease key with the holder and the time
    /// to live (which `release` does not read).
    async fn run(
        &self,
        script: &Script,
        commands: &ConnectionManager,
        session: &str,
        holder: &str,
    ) -> Result<i64, BusError> {
        let mut connection = commands.clone();
        script
            .key(key(session, "lease"))
            .arg(holder)
            .arg(self.ttl_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)
    }
}
