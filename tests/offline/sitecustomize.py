"""Python runs this at start-up in every subprocess the tests launch: no internet there
either, and no process outliving the test run that started it."""

import ctypes
import ctypes.util
import os
import signal
import sys

import offline_guard

offline_guard.install()

# A test that fails before stopping its `serve` would leave it running for good (its
# stderr pipe fills once pytest is gone). Linux ends such a child with its parent.
if sys.platform == "linux":
    _PR_SET_PDEATHSIG = 1
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except OSError:  # no libc to ask: the guard above still holds
        pass
    else:
        if os.getppid() == 1:  # the parent ended before we asked: follow it now
            sys.exit(1)
