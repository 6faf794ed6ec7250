//! Chat clients for `tests/chat.rs`: one member on a blocking socket with timeouts, a socket
//! that holds little in the kernel, and many members read on one thread with mio.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

/// Read and write timeout of every client socket: a bug fails the test instead of hanging it.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// One chat member on a blocking socket, reading line by line.
pub(crate) struct ChatClient {
    /// Buffered reads from the socket.
    reader: BufReader<TcpStream>,
    /// The same socket, for writing.
    writer: TcpStream,
    /// The nick the server welcomed it with.
    pub nick: String,
}

impl ChatClient {
    /// Connects to `addr` and reads the `* welcome <nick>` line.
    pub(crate) fn connect(addr: SocketAddr) -> ChatClient {
        let stream = TcpStream::connect(addr).expect("connect");
        ChatClient::over(stream)
    }

    /// A member on an already connected `stream`; reads the `* welcome <nick>` line.
    pub(crate) fn over(stream: TcpStream) -> ChatClient {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut client = ChatClient {
            reader: BufReader::with_capacity(128 << 10, stream),
            writer,
            nick: String::new(),
        };
        let welcome = client.line();
        client.nick = welcome
            .strip_prefix("* welcome ")
            .unwrap_or_else(|| panic!("expected `* welcome <nick>`, got {welcome:?}"))
            .to_string();
        client
    }

    /// Sends `line` and its `\n`.
    pub(crate) fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// Sends raw bytes.
    pub(crate) fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// The next line, without its `\n`. Panics on end of stream, an error or the timeout.
    pub(crate) fn line(&mut self) -> String {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(_) if line.last() == Some(&b'\n') => {
                line.pop();
                String::from_utf8(line).expect("the server sends UTF-8")
            }
            Ok(_) => panic!("{}: stream ended (after {line:?})", self.nick),
            Err(e) => panic!("{}: read failed: {e}", self.nick),
        }
    }

    /// Reads the next line and checks it is `want`.
    #[track_caller]
    pub(crate) fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "{} got the wrong line", self.nick);
    }

    /// Reads until end of stream and returns what came; a reset counts as the end too (the
    /// server may close a socket it has dropped output for). Panics on a timeout.
    pub(crate) fn read_to_end(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rest,
            Err(e) => panic!("{}: expected the end of stream: {e}", self.nick),
        }
    }

    /// Checks that the server closes the connection with nothing more to say.
    #[track_caller]
    pub(crate) fn expect_end(&mut self) {
        let rest = self.read_to_end();
        assert!(
            rest.is_empty(),
            "{}: more before the end: {:?}",
            self.nick,
            String::from_utf8_lossy(&rest)
        );
    }

    /// The socket's local address: the client's address as the server should see it.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().expect("local address")
    }

    /// A second handle on the socket, for writing from another thread.
    pub(crate) fn writer(&self) -> TcpStream {
        self.writer.try_clone().unwrap()
    }

    /// The socket and the bytes already read from it but not yet handed out as lines.
    pub(crate) fn into_parts(self) -> (TcpStream, Vec<u8>) {
        let leftover = self.reader.buffer().to_vec();
        (self.reader.into_inner(), leftover)
    }
}

/// A socket connected to `addr` that lets the kernel hold little of what the server sends it
/// and never reads: a 4 KiB receive buffer, and a 536-byte MSS, which keeps the server's send
/// buffer (sized by Linux from the MSS, 64 KiB on loopback) near 100 KiB instead of 4 MiB. What
/// the server sends beyond that waits in the server's output.
pub(crate) fn stingy_stream(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.connect(&addr.into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Many members read on one thread: a mio poll over their non-blocking sockets.
pub(crate) struct Crowd {
    /// Readiness of every socket, edge-triggered.
    poll: Poll,
    /// Each member's socket and the start of a line still waiting for its `\n`.
    members: Vec<(MioStream, Vec<u8>)>,
}

impl Crowd {
    /// Takes over the clients' sockets; member `i` is `clients[i]`.
    pub(crate) fn new(clients: Vec<ChatClient>) -> Crowd {
        let poll = Poll::new().unwrap();
        let mut members = Vec::with_capacity(clients.len());
        for (i, client) in clients.into_iter().enumerate() {
            let (stream, leftover) = client.into_parts();
            stream.set_nonblocking(true).unwrap();
            let mut stream = MioStream::from_std(stream);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)
                .unwrap();
            members.push((stream, leftover));
        }
        Crowd { poll, members }
    }

    /// Writes `bytes` to member `i`, waiting while its socket is full.
    pub(crate) fn send(&mut self, i: usize, bytes: &[u8]) {
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut rest = bytes;
        while !rest.is_empty() {
            match self.members[i].0.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "member {i}: write timed out");
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("member {i}: write failed: {e}"),
            }
        }
    }

    /// Hands every complete line each member receives to `on_line(member, line)` (without
    /// the `\n`) until `done()` holds; returns `false` if `deadline` came first. Panics if a
    /// member's connection ends.
    pub(crate) fn read(
        &mut self,
        deadline: Instant,
        mut on_line: impl FnMut(usize, &str),
        mut done: impl FnMut() -> bool,
    ) -> bool {
        // Bytes read before the sockets were handed over, and data that arrived before they
        // were registered (its edge may have gone unreported).
        for i in 0..self.members.len() {
            let leftover = std::mem::take(&mut self.members[i].1);
            split_lines(i, &mut self.members[i].1, &leftover, &mut on_line);
            self.drain(i, &mut on_line);
        }
        let mut events = Events::with_capacity(1024);
        while !done() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.poll
                .poll(&mut events, Some(left.min(Duration::from_millis(100))))
                .unwrap();
            for event in &events {
                self.drain(event.token().0, &mut on_line);
            }
        }
        true
    }

    /// Reads member `i`'s socket until it would block, handing out complete lines.
    fn drain(&mut self, i: usize, on_line: &mut impl FnMut(usize, &str)) {
        let (stream, pending) = &mut self.members[i];
        let mut buf = vec![0; 64 << 10];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => panic!("member {i}: the server closed the connection"),
                Ok(n) => split_lines(i, pending, &buf[..n], on_line),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("member {i}: read failed: {e}"),
            }
        }
    }
}

/// Hands each line that `chunk` completes to `on_line`; `pending` holds the start of a line
/// from earlier chunks, and keeps the unfinished end of this one.
fn split_lines(
    i: usize,
    pending: &mut Vec<u8>,
    mut chunk: &[u8],
    on_line: &mut impl FnMut(usize, &str),
) {
    while let Some(at) = chunk.iter().position(|&b| b == b'\n') {
        pending.extend_from_slice(&chunk[..at]);
        on_line(
            i,
            std::str::from_utf8(pending).expect("the server sends UTF-8"),
        );
        pending.clear();
        chunk = &chunk[at + 1..];
    }
    pending.extend_from_slice(chunk);
}
