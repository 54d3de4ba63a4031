"""Vendored data files of the kernel (a package so that they ship in the wheel)."""
