//! One browser WebSocket and its event handlers, on the browser's own API (smaller
//! than a futures-based wrapper): text frames and the close code come out through
//! one callback, and dropping the connection closes it.

use std::{cell::RefCell, rc::Rc};

use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What a connection reports.
pub enum Event {
    Text(String),
    /// The connection closed, with the server's close code when it sent one.
    Closed(Option<u16>),
}

type Handler<E> = Closure<dyn FnMut(E)>;

struct Handlers {
    _open: Handler<web_sys::Event>,
    _message: Handler<MessageEvent>,
    _close: Handler<CloseEvent>,
}

/// An open (or opening) WebSocket.
pub struct Connection {
    socket: WebSocket,
    /// Sent once the socket opens.
    queued: Rc<RefCell<Vec<String>>>,
    handlers: Option<Handlers>,
}

impl Connection {
    /// Opens `url` offering `protocols`; `on_event` hears every frame and the close.
    pub fn open(
        url: &str,
        protocols: &[String],
        on_event: impl Fn(Event) + 'static,
    ) -> Option<Self> {
        let offered = protocols
            .iter()
            .map(|p| wasm_bindgen::JsValue::from_str(p))
            .collect::<js_sys::Array>();
        let socket = WebSocket::new_with_str_sequence(url, &offered).ok()?;
        let on_event = Rc::new(on_event);
        let queued = Rc::new(RefCell::new(Vec::<String>::new()));

        let opened = socket.clone();
        let waiting = queued.clone();
        let open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            for text in waiting.borrow_mut().drain(..) {
                let _ = opened.send_with_str(&text);
            }
        });
        let hear = on_event.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                hear(Event::Text(text));
            }
        });
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let code = event.code();
            // 1005: no code was sent; 1006: the connection just dropped.
            on_event(Event::Closed(
                (code != 1005 && code != 1006).then_some(code),
            ));
        });
        socket.set_onopen(Some(open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(close.as_ref().unchecked_ref()));
        Some(Self {
            socket,
            queued,
            handlers: Some(Handlers {
                _open: open,
                _message: message,
                _close: close,
            }),
        })
    }

    /// Sends a text frame (queued until the socket opens); false once it closed.
    pub fn send(&self, text: String) -> bool {
        match self.socket.ready_state() {
            WebSocket::CONNECTING => {
                self.queued.borrow_mut().push(text);
                true
            }
            WebSocket::OPEN => self.socket.send_with_str(&text).is_ok(),
            _ => false,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        if self.socket.ready_state() <= WebSocket::OPEN {
            let _ = self.socket.close();
        }
        // The connection may be dropped from inside one of its handlers: free them
        // once that handler has returned.
        let handlers = self.handlers.take();
        spawn_local(async move { drop(handlers) });
    }
}
