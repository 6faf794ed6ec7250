//! `MemorySocket`: a socket in memory, for `TestConnection`.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;

use crate::connection::Transport;
use crate::output::Sink;

/// The peer's side of an in-memory connection: what it sent (read by the connection), what it
/// has not read yet (written by the connection), and how much of that it lets pile up.
#[derive(Debug, Default)]
pub(crate) struct MemorySocket {
    /// Bytes the peer sent that the connection has not read.
    input: VecDeque<u8>,
    /// The peer has closed its side: reads return 0 once `input` is empty.
    input_closed: bool,
    /// Bytes the connection wrote that the test has not taken.
    output: Vec<u8>,
    /// Most unread output the peer takes before writes would block, like a socket buffer;
    /// `None` for no limit.
    window: Option<usize>,
    /// The connection has sent its FIN: writes fail.
    output_closed: bool,
    /// The connection asked for its close to be a reset.
    reset: bool,
    /// How a connect under way ends: the peer's address, or the error. Taken once.
    connect: Option<io::Result<SocketAddr>>,
}

impl MemorySocket {
    /// The peer sends `bytes`.
    pub(crate) fn push_input(&mut self, bytes: &[u8]) {
        self.input.extend(bytes);
    }

    /// The peer closes its side.
    pub(crate) fn close_input(&mut self) {
        self.input_closed = true;
    }

    /// Whether the peer has closed its side.
    pub(crate) fn is_input_closed(&self) -> bool {
        self.input_closed
    }

    /// The peer reads everything written so far.
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Whether the connection has sent its FIN.
    pub(crate) fn is_output_closed(&self) -> bool {
        self.output_closed
    }

    /// Whether the connection asked for its close to be a reset.
    pub(crate) fn is_reset(&self) -> bool {
        self.reset
    }

    /// Sets how a connect under way ends.
    pub(crate) fn set_connect_outcome(&mut self, outcome: io::Result<SocketAddr>) {
        self.connect = Some(outcome);
    }

    /// Sets how much unread output the peer takes before writes block.
    pub(crate) fn set_window(&mut self, window: Option<usize>) {
        self.window = window;
    }

    /// Room for more output now.
    fn room(&self) -> usize {
        self.window
            .map_or(usize::MAX, |w| w.saturating_sub(self.output.len()))
    }
}

impl Read for MemorySocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return if self.input_closed {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.input.len());
        for (dst, src) in buf.iter_mut().zip(self.input.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl Write for MemorySocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.output_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        let mut room = self.room();
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut written = 0;
        for buf in bufs {
            let n = buf.len().min(room);
            self.output.extend_from_slice(&buf[..n]);
            written += n;
            room -= n;
            if room == 0 {
                break;
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Takes file regions as a plain socket does, reading the file (as `sendfile` would) up to the
/// room in the window.
impl Sink for MemorySocket {
    fn sends_files(&self) -> bool {
        true
    }

    fn send_file(&mut self, file: &File, offset: u64, len: usize) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        if self.output_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let want = len.min(self.room());
        if want == 0 && len > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut buf = vec![0; want];
        let n = file.read_at(&mut buf, offset)?;
        self.output.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Transport for MemorySocket {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.output_closed = true;
        Ok(())
    }

    fn set_reset_on_close(&mut self) {
        self.reset = true;
    }

    fn finish_connect(&mut self) -> io::Result<SocketAddr> {
        self.connect
            .take()
            .unwrap_or_else(|| Err(io::ErrorKind::NotConnected.into()))
    }
}
