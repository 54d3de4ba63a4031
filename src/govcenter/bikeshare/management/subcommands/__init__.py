"""Plug-in subcommands of ``govcenter bikeshare`` (see core.management.base.PluginCommand)."""
