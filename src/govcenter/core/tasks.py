"""Background and periodic jobs of the kernel (Huey)."""
