//! A connection's writer task: owns the socket's sending half and writes frames as
//! they come, flushing once per burst.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures::{Sink, SinkExt};
use tokio::sync::mpsc;

/// What a connection's writer task sends.
#[derive(Debug)]
pub enum Outgoing {
    Text(Utf8Bytes),
    Ping,
    Close(u16, &'static str),
}

/// Writes until the channel closes, a write fails, or a close frame went out.
pub async fn write_frames<W>(mut sink: W, mut rx: mpsc::Receiver<Outgoing>)
where
    W: Sink<Message> + Unpin,
{
    'outer: while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(outgoing) = next.take() {
            let message = match outgoing {
                Outgoing::Text(text) => Message::Text(text),
                Outgoing::Ping => Message::Ping(Default::default()),
                Outgoing::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break 'outer;
                }
            };
            if sink.feed(message).await.is_err() {
                break 'outer;
            }
            next = rx.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}
