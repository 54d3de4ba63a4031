"""The monthly bike-share supervision report (月度监管报告): one action → Word + Excel.

``monthly`` gathers the figures, ``layout`` turns them into sections, ``docx`` / ``xlsx``
render the files (``charts`` draws the Word report's PNG charts), ``generate`` stores and
audits them.
"""
