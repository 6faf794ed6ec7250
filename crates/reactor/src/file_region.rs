//! `FileRegion`: a byte range of an open file, for a connection to send straight from the page
//! cache (`sendfile`), with no copy through user space.

use std::fs::File;
use std::sync::Arc;

/// A byte range of an open file, queued on a connection with
/// [`Context::send_file`](crate::Context::send_file) and sent by the kernel (`sendfile(2)`):
/// the bytes go from the page cache to the socket without passing through the program.
///
/// The file is shared (`Arc`), so a server sending one file to many clients, or one file in
/// several windows, opens it once; the descriptor closes when the last region is written or
/// dropped. The range is read when it is sent, not when it is queued: see
/// [`Context::send_file`](crate::Context::send_file) for what that asks of the program.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use turbine_reactor::FileRegion;
///
/// let file = Arc::new(std::fs::File::open("index.html")?); // on the worker pool, in a server
/// let region = FileRegion::new(Arc::clone(&file), 0, 4096); // its first 4 KiB
/// assert_eq!((region.offset(), region.len()), (0, 4096));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FileRegion {
    /// The open file.
    file: Arc<File>,
    /// Where the range starts, in bytes from the start of the file.
    offset: u64,
    /// Its length in bytes.
    len: usize,
}

impl FileRegion {
    /// `len` bytes of `file` from `offset`.
    pub fn new(file: Arc<File>, offset: u64, len: usize) -> FileRegion {
        FileRegion { file, offset, len }
    }

    /// The file.
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Where the range starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The range's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
