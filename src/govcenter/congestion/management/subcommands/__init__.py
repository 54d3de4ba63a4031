"""Plug-in subcommands of ``govcenter congestion`` (one module each)."""
