"""Signal receivers of the kernel (login/logout auditing lives here)."""
