"""The weekly and monthly parking reports (statistics 8 周报数据统计 and 9 月报数据统计).

:mod:`.sections` (the ordered section functions, each calling a statistic's own compute),
:mod:`.render` (Word and Excel), :mod:`.services` (generate, list, download), :mod:`.tasks`
(the schedule), :mod:`.views` (pages) and :mod:`.api` (REST).
"""
