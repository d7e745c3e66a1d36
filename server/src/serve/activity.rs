//! What one HTTP connection is doing, for its deadlines: waiting for a request head,
//! serving requests, or idle between them; and the socket that reports its reads.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Notify,
    time::Instant,
};

use super::ServeSettings;

/// What an idle-looking connection is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    /// The rest of a request head (or, at the start, any of it).
    Head,
    /// A next request on a keep-alive connection.
    Idle,
}

/// The phase of one connection, updated by its socket reads and its requests.
pub(super) struct Activity {
    started: Instant,
    /// Requests whose responses are not finished.
    in_flight: AtomicUsize,
    /// Bytes of a request head arrived while nothing was in flight.
    reading_head: AtomicBool,
    /// When the current wait began, in ms after `started`.
    since_ms: AtomicU64,
    /// Wakes the connection's task when a deadline moves.
    pub(super) changed: Notify,
}

impl Activity {
    pub(super) fn new(started: Instant) -> Self {
        Self {
            started,
            in_flight: AtomicUsize::new(0),
            // A new connection owes its first request head at once.
            reading_head: AtomicBool::new(true),
            since_ms: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn mark(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.started).as_millis();
        self.since_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Release);
    }

    /// Bytes arrived: on an idle connection, they start a request head. (`now` is
    /// only read on that change, not on every read.)
    pub(super) fn on_read(&self, now: impl FnOnce() -> Instant) {
        if self.in_flight.load(Ordering::Acquire) == 0 && !self.reading_head.load(Ordering::Acquire)
        {
            self.mark(now());
            self.reading_head.store(true, Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// A request head is complete and its handler starts.
    pub(super) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.reading_head.store(false, Ordering::Release);
    }

    /// A response is finished (or abandoned).
    pub(super) fn request_finished(&self, now: Instant) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.mark(now);
            self.reading_head.store(false, Ordering::Release);
            self.changed.notify_one();
        }
    }

    pub(super) fn wait(&self) -> Option<Wait> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            None
        } else if self.reading_head.load(Ordering::Acquire) {
            Some(Wait::Head)
        } else {
            Some(Wait::Idle)
        }
    }

    /// When the current wait ends, if the connection is waiting at all.
    pub(super) fn deadline(&self, settings: &ServeSettings) -> Option<Instant> {
        let limit = match self.wait()? {
            Wait::Head => settings.header_read_timeout,
            Wait::Idle => settings.idle_timeout,
        };
        let since = Duration::from_millis(self.since_ms.load(Ordering::Acquire));
        Some(self.started + since + limit)
    }

    pub(super) fn expired(&self, settings: &ServeSettings, now: Instant) -> Option<Wait> {
        let wait = self.wait()?;
        (self.deadline(settings)? <= now).then_some(wait)
    }
}

/// The socket, reporting reads to the connection's [`Activity`].
pub(super) struct Watched {
    pub(super) inner: TcpStream,
    pub(super) activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.on_read(Instant::now);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ServeSettings {
        ServeSettings {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1,
            drain_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_connection_waits_for_a_head_then_requests_then_idles() {
        let settings = settings();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let activity = Activity::new(start);
        assert_eq!(activity.wait(), Some(Wait::Head));
        assert_eq!(activity.deadline(&settings), Some(at(10)));
        activity.on_read(|| at(1));
        activity.request_started();
        assert_eq!(
            activity.deadline(&settings),
            None,
            "no deadline while a request runs"
        );
        activity.on_read(|| at(200)); // a request body, or a pipelined request
        assert_eq!(activity.wait(), None);
        activity.request_finished(at(300));
        assert_eq!(activity.wait(), Some(Wait::Idle));
        assert_eq!(activity.deadline(&settings), Some(at(375)));
        assert_eq!(activity.expired(&settings, at(374)), None);
        activity.on_read(|| at(305));
        assert_eq!(activity.wait(), Some(Wait::Head));
        assert_eq!(
            activity.deadline(&settings),
            Some(at(315)),
            "a started head gets the head deadline from its first byte"
        );
        assert_eq!(activity.expired(&settings, at(314)), None);
        assert_eq!(activity.expired(&settings, at(315)), Some(Wait::Head));
        // Two requests in flight (pipelined): idle only after both finish.
        activity.request_started();
        activity.request_started();
        activity.request_finished(at(320));
        assert_eq!(activity.wait(), None);
        activity.request_finished(at(321));
        assert_eq!(activity.deadline(&settings), Some(at(396)));
    }
}
