#!/usr/bin/env python3
"""Gives threads a custom EEVDF slice, for the offload tail experiment in BENCHMARKS.md.

    set_slice.py NS TID...

Sets each thread's `sched_attr.sched_runtime` to NS nanoseconds under SCHED_OTHER with
`sched_setattr(2)` (Linux 6.12 and later read it as the thread's slice, clamped to 0.1 to
100 ms; a thread with a shorter slice than the running one may preempt it when it wakes). NS 0
gives the thread the default slice back. glibc has no wrapper, so this calls the system call
by number (x86-64). A child inherits its parent's slice: set it on the threads to study, not
on a shell that starts the rest.
"""
import ctypes
import struct
import sys

SYS_SCHED_SETATTR = 314  # x86-64
SCHED_OTHER = 0

libc = ctypes.CDLL(None, use_errno=True)
slice_ns = int(sys.argv[1])
for tid in map(int, sys.argv[2:]):
    # struct sched_attr, first version (48 bytes): size, policy, flags, nice, priority,
    # runtime, deadline, period.
    attr = struct.pack("IIQiIQQQ", 48, SCHED_OTHER, 0, 0, 0, slice_ns, 0, 0)
    if libc.syscall(SYS_SCHED_SETATTR, tid, ctypes.create_string_buffer(attr), 0) != 0:
        print(f"thread {tid}: errno {ctypes.get_errno()}", file=sys.stderr)
