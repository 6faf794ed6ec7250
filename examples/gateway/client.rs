//! `Client`: one gateway connection: its requests, answered in order, each from two back-end
//! queries sent at once.

use std::collections::VecDeque;
use std::sync::Arc;

use turbine::codec::Value;
use turbine::{ByteLinesCodec, CodecError, Command, Config, Context, Handler, TimerId};

use super::backend;
use super::config::Settings;
use super::json;

/// The back end could not take a query, or its connection failed with the query in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable;

/// One of the two queries of a request: the request's number and which query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Query {
    /// The request's number on its connection.
    seq: u64,
    /// `HGETALL` or `LRANGE`.
    part: Part,
}

/// Which query of a `USER` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// `HGETALL user:<id>`.
    User,
    /// `LRANGE orders:<id> 0 -1`.
    Orders,
}

/// A request of the connection, in arrival order.
#[derive(Debug)]
enum Request {
    /// Answered; waits only for the requests before it.
    Done(String),
    /// Waiting for the back end.
    Waiting {
        /// The `HGETALL` reply, once it is in.
        user: Option<Value>,
        /// The `LRANGE` reply, once it is in.
        orders: Option<Value>,
        /// The request's deadline.
        timer: Option<TimerId>,
    },
}

/// A gateway connection.
#[derive(Debug)]
pub(crate) struct Client {
    /// The gateway's settings.
    settings: Arc<Settings>,
    /// Requests not yet answered, oldest first; answers leave in this order.
    requests: VecDeque<Request>,
    /// Number of the oldest request in `requests`.
    first: u64,
}

impl Client {
    /// A new connection of the gateway.
    pub(crate) fn new(settings: Arc<Settings>) -> Self {
        Client {
            settings,
            requests: VecDeque::new(),
            first: 0,
        }
    }

    /// Queues the answer to a new request.
    fn answer(&mut self, ctx: &mut Context<'_, Self>, line: impl Into<String>) {
        self.requests.push_back(Request::Done(line.into()));
        self.send_ready(ctx);
    }

    /// `USER <id>`: both queries sent at once, the answer when both are back.
    fn user(&mut self, ctx: &mut Context<'_, Self>, id: &str) {
        let seq = self.first + self.requests.len() as u64;
        let queries = [
            (
                Command::from(["HGETALL", &format!("user:{id}")]),
                Part::User,
            ),
            (
                Command::from(["LRANGE", &format!("orders:{id}"), "0", "-1"]),
                Part::Orders,
            ),
        ];
        self.requests.push_back(Request::Waiting {
            user: None,
            orders: None,
            timer: None,
        });
        for (command, part) in queries {
            let query = Query { seq, part };
            if backend::send(ctx, &self.settings, command, query) == Err(Unavailable) {
                // The other query may be out already: its late reply is dropped.
                return self.finish(ctx, seq, "ERR backend unavailable".to_string());
            }
        }
        let timer = ctx.set_timer(self.settings.timeout, seq).ok();
        if let Some(Request::Waiting { timer: slot, .. }) = self.request(seq) {
            *slot = timer;
        }
    }

    /// The request numbered `seq`, while it is still queued.
    fn request(&mut self, seq: u64) -> Option<&mut Request> {
        let index = seq.checked_sub(self.first)?;
        self.requests.get_mut(usize::try_from(index).ok()?)
    }

    /// Answers request `seq` (unless it was answered already) and sends what is ready.
    fn finish(&mut self, ctx: &mut Context<'_, Self>, seq: u64, line: String) {
        if let Some(request) = self.request(seq) {
            if let Request::Waiting { timer, .. } = request {
                if let Some(timer) = timer.take() {
                    ctx.cancel_timer(timer);
                }
                *request = Request::Done(line);
            }
        }
        self.send_ready(ctx);
    }

    /// Sends the answers at the front of the queue that are ready, in request order.
    fn send_ready(&mut self, ctx: &mut Context<'_, Self>) {
        while let Some(Request::Done(_)) = self.requests.front() {
            if let Some(Request::Done(line)) = self.requests.pop_front() {
                ctx.send(line);
            }
            self.first += 1;
        }
    }

    /// A reply from the back end (or its failure) for `query`. One for a request that timed
    /// out or was answered already is dropped: it can never answer another request.
    pub(crate) fn on_backend(
        &mut self,
        ctx: &mut Context<'_, Self>,
        query: Query,
        reply: Result<Value, Unavailable>,
    ) {
        let Some(Request::Waiting { user, orders, .. }) = self.request(query.seq) else {
            return;
        };
        let reply = match reply {
            Err(Unavailable) => {
                return self.finish(ctx, query.seq, "ERR backend unavailable".to_string());
            }
            Ok(Value::Error(message)) => {
                let message = String::from_utf8_lossy(&message).into_owned();
                return self.finish(ctx, query.seq, format!("ERR backend: {message}"));
            }
            Ok(value) => value,
        };
        match query.part {
            Part::User => *user = Some(reply),
            Part::Orders => *orders = Some(reply),
        }
        if let (Some(user), Some(orders)) = (user, orders) {
            let line = json::user_line(user, orders)
                .unwrap_or_else(|| "ERR backend: unexpected reply".to_string());
            self.finish(ctx, query.seq, line);
        }
    }
}

/// Whether `id` is 1 to 64 of `[A-Za-z0-9_-]`.
fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Handler for Client {
    type Codec = ByteLinesCodec;

    fn codec(&mut self, config: &Config) -> ByteLinesCodec {
        ByteLinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: Vec<u8>) {
        // A line that is not UTF-8 is no request this protocol has (nor an id it allows): it
        // is answered like any other unknown line, and the connection goes on.
        let line = String::from_utf8_lossy(&line);
        match line.split_once(' ') {
            None if line == "PING" => self.answer(ctx, "PONG"),
            None if line == "USER" => self.answer(ctx, "ERR invalid id"),
            Some(("USER", id)) if is_valid_id(id) => self.user(ctx, id),
            Some(("USER", _)) => self.answer(ctx, "ERR invalid id"),
            _ => self.answer(ctx, "ERR unknown command"),
        }
    }

    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        if error.is_fatal() {
            // Answers to the requests before it go out first; then this one, then the close.
            self.answer(ctx, "ERR line too long");
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, seq: u64) {
        if let Some(Request::Waiting { timer, .. }) = self.request(seq) {
            *timer = None; // it fired
            self.finish(ctx, seq, "ERR timeout".to_string());
        }
    }

    fn is_busy(&self) -> bool {
        !self.requests.is_empty()
    }
}
