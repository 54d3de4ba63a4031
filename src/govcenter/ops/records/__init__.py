"""Work records (工作日志), changes and releases (变更与发布) and training (培训)."""
