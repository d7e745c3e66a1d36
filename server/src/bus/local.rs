//! The bus of a single process: subscribers, leases and control messages in memory.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Bus, BusError, Control, Live, Subscriber, Subscription, guard};

pub struct LocalBus {
    subscribers: Mutex<HashMap<String, Vec<Subscriber>>>,
    leases: Mutex<HashMap<String, String>>,
    controls: mpsc::UnboundedSender<(String, Control)>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<(String, Control)>>>,
}

impl Default for LocalBus {
    fn default() -> Self {
        let (controls, receiver) = mpsc::unbounded_channel();
        Self {
            subscribers: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            controls,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

#[async_trait]
impl Bus for LocalBus {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn shared(&self) -> bool {
        false
    }

    async fn publish(&self, session: &str, live: Live) -> Result<(), BusError> {
        self.deliver_local(session, live);
        Ok(())
    }

    fn deliver_local(&self, session: &str, live: Live) {
        let mut all = guard(&self.subscribers);
        if let Some(list) = all.get_mut(session) {
            list.retain(|subscriber| subscriber.deliver(&live));
        }
    }

    async fn subscribe(&self, session: &str) -> Result<Subscription, BusError> {
        let (subscriber, subscription) = Subscriber::new();
        let mut all = guard(&self.subscribers);
        let list = all.entry(session.to_owned()).or_default();
        list.retain(|s| !s.tx.is_closed());
        list.push(subscriber);
        Ok(subscription)
    }

    async fn prune(&self, session: &str) -> Result<(), BusError> {
        let mut all = guard(&self.subscribers);
        if let Some(list) = all.get_mut(session) {
            list.retain(|s| !s.tx.is_closed());
            if list.is_empty() {
                all.remove(session);
            }
        }
        Ok(())
    }

    async fn recent(&self, _session: &str, _after: u64) -> Result<Vec<Live>, BusError> {
        Ok(Vec::new())
    }

    async fn tail(&self, _session: &str) -> Result<Option<Live>, BusError> {
        Ok(None)
    }

    async fn try_lease(&self, session: &str, holder: &str) -> Result<bool, BusError> {
        let mut leases = guard(&self.leases);
        match leases.get(session) {
            Some(current) => Ok(current == holder),
            None => {
                leases.insert(session.to_owned(), holder.to_owned());
                Ok(true)
            }
        }
    }

    async fn renew_lease(&self, session: &str, holder: &str) -> Result<bool, BusError> {
        Ok(guard(&self.leases)
            .get(session)
            .is_some_and(|h| h == holder))
    }

    async fn release_lease(&self, session: &str, holder: &str) -> Result<(), BusError> {
        let mut leases = guard(&self.leases);
        if leases.get(session).is_some_and(|h| h == holder) {
            leases.remove(session);
        }
        Ok(())
    }

    async fn leased(&self, session: &str) -> Result<bool, BusError> {
        Ok(guard(&self.leases).contains_key(session))
    }

    async fn control(&self, session: &str, control: Control) -> Result<(), BusError> {
        self.controls
            .send((session.to_owned(), control))
            .map_err(|_| BusError("the control channel is closed".into()))
    }

    fn take_controls(&self) -> Option<mpsc::UnboundedReceiver<(String, Control)>> {
        guard(&self.receiver).take()
    }

    async fn touch_presence(&self, _sessions: &[String]) -> Result<(), BusError> {
        Ok(())
    }

    async fn present(&self, session: &str) -> Result<bool, BusError> {
        Ok(guard(&self.subscribers)
            .get(session)
            .is_some_and(|list| list.iter().any(|s| !s.tx.is_closed())))
    }

    async fn forget(&self, session: &str) -> Result<(), BusError> {
        guard(&self.subscribers).remove(session);
        guard(&self.leases).remove(session);
        Ok(())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}
