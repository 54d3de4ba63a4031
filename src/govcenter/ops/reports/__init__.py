"""The O&M monthly and quarterly reports (月报 / 季度报告): the section registry
(:mod:`.registry`), the Word (:mod:`.word`) and PDF (:mod:`.pdf`) renderings and the
generation service (:mod:`.services`)."""
