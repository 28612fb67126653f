"""ccare: an open platform for merchants' C-CARE customer loop."""

__version__ = "0.1.0"
