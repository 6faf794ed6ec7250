//! `HashLoad`: connections that keep one `HASH` request each outstanding, so the pool never
//! runs dry.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;

/// Replies counted by every loader connection.
#[derive(Default)]
pub(crate) struct Counts {
    /// Hashes received (128 lowercase hex digits each).
    pub hashes: AtomicU64,
    /// `ERR busy` replies.
    pub busy: AtomicU64,
    /// Any other reply.
    pub wrong: AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    /// Hashes received.
    pub hashes: u64,
    /// `ERR busy` replies.
    pub busy: u64,
    /// Any other reply.
    pub wrong: u64,
}

impl std::ops::Sub for Tally {
    type Output = Tally;
    fn sub(self, earlier: Tally) -> Tally {
        Tally {
            hashes: self.hashes - earlier.hashes,
            busy: self.busy - earlier.busy,
            wrong: self.wrong - earlier.wrong,
        }
    }
}

/// One thread per connection: keep `depth` `HASH` requests outstanding (a new one as each reply
/// arrives), count the replies, until stopped.
pub(crate) struct HashLoad {
    /// What the threads counted.
    counts: Arc<Counts>,
    /// Tells the threads to stop after their current request.
    stop: Arc<AtomicBool>,
    /// The threads; each returns the error that ended it early, if any.
    threads: Vec<JoinHandle<io::Result<()>>>,
}

impl HashLoad {
    /// Starts `connections` loaders against `addr`, each keeping `depth` requests outstanding.
    ///
    /// # Errors
    ///
    /// A connection could not be opened.
    pub(crate) fn start(
        addr: SocketAddr,
        connections: usize,
        depth: usize,
    ) -> io::Result<HashLoad> {
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::with_capacity(connections);
        for c in 0..connections {
            let stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            // A reply takes at most the whole queue's work; this only catches a dead server.
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            let counts = Arc::clone(&counts);
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || {
                load(stream, c, depth, &counts, &stop)
            }));
        }
        Ok(HashLoad {
            counts,
            stop,
            threads,
        })
    }

    /// The counts so far.
    pub(crate) fn tally(&self) -> Tally {
        Tally {
            hashes: self.counts.hashes.load(Relaxed),
            busy: self.counts.busy.load(Relaxed),
            wrong: self.counts.wrong.load(Relaxed),
        }
    }

    /// Stops the loaders once their requests in flight are answered.
    ///
    /// # Errors
    ///
    /// The first error a loader stopped with.
    pub(crate) fn stop(self) -> io::Result<()> {
        self.stop.store(true, Relaxed);
        let mut result = Ok(());
        for thread in self.threads {
            let outcome = thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a loader panicked")));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}

/// One loader connection's loop.
fn load(
    stream: TcpStream,
    connection: usize,
    depth: usize,
    counts: &Counts,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut n = 0u64;
    let mut outstanding = 0;
    while !stop.load(Relaxed) {
        while outstanding < depth {
            writer.write_all(format!("HASH load {connection} {n}\n").as_bytes())?;
            n += 1;
            outstanding += 1;
        }
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::other("the server closed a HASH connection"));
        }
        let reply = line.trim_end_matches('\n');
        let counter = if reply == "ERR busy" {
            &counts.busy
        } else if reply.len() == 128
            && reply
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            &counts.hashes
        } else {
            &counts.wrong
        };
        counter.fetch_add(1, Relaxed);
        outstanding -= 1;
    }
    Ok(())
}
