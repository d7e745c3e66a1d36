//! The bodies the server loop wraps around requests and responses: a request body
//! with a deadline between its parts, and a response body that holds something (a
//! request's place, a client's slot) until it is finished.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::activity::Activity;

/// Marks a request finished when dropped (with its response body, or with the
/// handler's future if the client went away first).
pub(super) struct InFlight(pub(super) Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished(Instant::now());
    }
}

/// A response body that holds `G` until the body is finished or dropped: a request's
/// place in its connection, a client's REST turn slot.
pub struct Guarded<G> {
    body: Body,
    guard: Option<G>,
}

impl<G> Guarded<G> {
    pub fn new(body: Body, guard: G) -> Self {
        Self {
            body,
            guard: Some(guard),
        }
    }
}

impl<G: Unpin + Send + 'static> HttpBody for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails when no part of it arrives for `timeout`.
pub(super) struct Paced {
    body: Incoming,
    timeout: Duration,
    /// Armed while waiting for the next frame.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Paced {
    pub(super) fn new(body: Incoming, timeout: Duration) -> Self {
        Self {
            body,
            timeout,
            sleep: None,
        }
    }
}

/// The error of a request body that stalled.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving")]
pub struct BodyStalled;

impl HttpBody for Paced {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                Poll::Ready(frame.map(|frame| frame.map_err(axum::Error::new)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyStalled)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
