"""How the monitoring pages present a probe's measured value."""


def test_a_measured_value_reads_with_its_unit():
    from govcenter.ops.templatetags.ops_monitoring import probe_value

    assert probe_value(None, "disk") == "—"
    assert probe_value(42.04, "disk") == "可用 42.0%"
    assert probe_value(20.9, "tls") == "剩 20 天"
    assert probe_value(51.357, "freshness") == "51 秒前" and probe_value(900, "freshness") == "15 分钟前"
    assert probe_value(200, "http") == "200" and probe_value(0.125, "db") == "0.12"
