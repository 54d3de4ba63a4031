"""Congestion-relief project management (缓解交通拥堵项目管理): the ten subsystems as one case
system on the kernel's case machinery (docs/decisions/0006-case-machinery.md)."""
