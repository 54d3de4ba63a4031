"""Monitoring (7×24 监控): probes on schedules, results, uptime, alert rules with flap damping,
maintenance windows, Prometheus metrics. See docs/ops/monitoring.md."""
