//! What the scripted fake servers (Bedrock, OpenAI) share: the replies still to give,
//! in order; every request received, for tests to assert on; and a switch that breaks
//! a streaming answer's connection when the test says so.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::body::{Body, Bytes};
use futures::{Stream, StreamExt};
use tokio::sync::Notify;

pub struct Script<Reply, Request> {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Request>>,
    cut: Notify,
}

impl<Reply, Request: Clone> Script<Reply, Request> {
    pub fn new(replies: Vec<Reply>) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
            cut: Notify::new(),
        })
    }

    /// Records `request` and takes the next scripted reply, if any is left.
    pub fn answer(&self, request: Request) -> Option<Reply> {
        self.requests.lock().unwrap().push(request);
        self.replies.lock().unwrap().pop_front()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Breaks the connection of a [`Script::body_cut_on_cue`] answer (now, or as soon
    /// as it has sent its chunks).
    pub fn cut(&self) {
        self.cut.notify_one();
    }
}

impl<Reply: Send + Sync + 'static, Request: Send + Sync + 'static> Script<Reply, Request> {
    /// A body that sends `chunks`, then breaks its connection once the test calls
    /// [`Script::cut`] (so the chunks surely reached the client first). An error from
    /// the body stream makes hyper drop the connection mid-body.
    pub fn body_cut_on_cue(
        self: &Arc<Self>,
        chunks: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Body {
        let script = self.clone();
        Body::from_stream(chunks.chain(futures::stream::once(async move {
            script.cut.notified().await;
            Err(std::io::Error::other("connection cut by the fake"))
        })))
    }
}
